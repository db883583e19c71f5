package app

import (
	"context"
	"crypto"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/entra"
)

// tlsListener wraps ln to serve TLS with the PEM certificate chain and key.
func tlsListener(ln net.Listener, certFile, keyFile string) (net.Listener, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), nil
}

// bearerAuth sets up Entra ID bearer authentication: the dev issuer (if
// configured) and a verifier trusting it and every configured OIDC issuer.
// Both results are nil when bearer authentication is off. The verifier is
// returned as an interface only when set, so a nil *entra.Verifier never
// becomes a non-nil httpapi.BearerVerifier.
func bearerAuth(ctx context.Context, cfg Config, endpoint string) (*devissuer.Issuer, *entra.Verifier, error) {
	if !cfg.DevIssuer && len(cfg.OIDCIssuers) == 0 {
		return nil, nil, nil
	}
	ecfg := entra.Config{Issuers: cfg.OIDCIssuers, Audiences: cfg.OIDCAudiences}
	var issuer *devissuer.Issuer
	if cfg.DevIssuer {
		var err error
		if issuer, err = devissuer.Load(cfg.DataDir, endpoint); err != nil {
			return nil, nil, err
		}
		ecfg.Static = append(ecfg.Static, entra.StaticIssuer{URL: issuer.URL(), AuthorizationURI: issuer.AuthorizationURI(),
			Keys: []crypto.PublicKey{issuer.PublicKey()}})
	}
	v, err := entra.New(ctx, ecfg)
	if err != nil {
		return nil, nil, err
	}
	return issuer, v, nil
}
