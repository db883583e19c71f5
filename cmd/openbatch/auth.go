package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/devtls"
	"github.com/openbatch/openbatch/internal/entra"
)

// authFlags are the TLS and Entra ID flags of `dev` and `server`.
type authFlags struct {
	tlsCert, tlsKey string
	devTLS          bool
	issuers         []string
	audiences       []string
}

func (f *authFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain to serve HTTPS with (needs --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringArrayVar(&f.issuers, "oidc-issuer", nil, "trusted Microsoft Entra ID / OIDC issuer URL for bearer tokens, e.g. https://login.microsoftonline.com/TENANT/v2.0 (repeatable)")
	fl.StringSliceVar(&f.audiences, "oidc-audience", entra.DefaultAudiences, "accepted bearer token audiences")
	if cmd.Name() == "dev" {
		fl.BoolVar(&f.devTLS, "tls", false, "serve HTTPS with a local CA and certificate kept in --data-dir/tls")
	}
}

// apply copies the flags into cfg; with --tls it makes the dev CA and
// returns the CA file clients should trust.
func (f *authFlags) apply(cfg *app.Config, dev bool) (caFile string, err error) {
	cfg.TLSCertFile, cfg.TLSKeyFile = f.tlsCert, f.tlsKey
	cfg.OIDCIssuers, cfg.OIDCAudiences = f.issuers, f.audiences
	if !f.devTLS {
		return "", nil
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		return "", errors.New("--tls makes its own certificate; leave out --tls-cert and --tls-key, or --tls")
	}
	files, err := devtls.Ensure(cfg.DataDir, time.Now())
	if err != nil {
		return "", fmt.Errorf("--tls: %w", err)
	}
	cfg.TLSCertFile, cfg.TLSKeyFile = files.Cert, files.Key
	return files.CACert, nil
}

// printAuthBanner prints how to get bearer tokens and trust the dev CA.
func printAuthBanner(w io.Writer, srv *app.Server, caFile string) {
	if caFile != "" {
		fmt.Fprintf(w, "\nTrust the local CA (TLS):\n  export SSL_CERT_FILE=%s\n  export REQUESTS_CA_BUNDLE=%s\n  export NODE_EXTRA_CA_CERTS=%s\n", caFile, caFile, caFile)
	}
	if srv.Issuer != nil {
		fmt.Fprintf(w, "\nEntra ID tokens (development issuer, public credentials):\n  tenant ID:      %s\n  client ID:      %s\n  client secret:  %s\n  authority host: %s\n  scope:          https://batch.core.windows.net//.default\n",
			devissuer.TenantID, devissuer.ClientID, devissuer.ClientSecret, srv.Issuer.AuthorityHost())
		if !strings.HasPrefix(srv.Endpoint, "https://") {
			fmt.Fprintln(w, "  (Azure SDKs accept tokens only over HTTPS: start with --tls)")
		}
	}
	if n := len(srv.Config.OIDCIssuers); n > 0 {
		fmt.Fprintf(w, "\nBearer tokens accepted from %d OIDC issuer(s) for audiences %v\n", n, srv.Config.OIDCAudiences)
	}
}
