package azure

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Connection pool sizes of the default transport.
const (
	// maxConnsIdlePerHost keeps enough idle connections to one storage
	// account for every request an agent has in flight by default
	// (outputfiles: 32 small files at once, or 8 large files × 4 blocks),
	// so that no request pays a new TCP (and TLS) connection.
	maxConnsIdlePerHost = 64
	maxConnsIdle        = 128
)

// newTransport returns the HTTP client a Backend uses when Options.Transport
// is nil: the settings of the SDK's default client (proxy from the
// environment, dial and TLS handshake timeouts, TLS 1.2 at least), with a
// larger idle pool. The SDK's default keeps 10 idle connections per host;
// with more requests than that in flight, every surplus request closes its
// connection after use and the next one dials again. Each Backend owns its
// client, so its connections are reused across all the containers it opens
// and all the uploads that go through it.
//
// It is built from scratch rather than cloned from http.DefaultTransport,
// which a program (or a test) may have replaced with another RoundTripper;
// like the SDK's client, it does not depend on it.
func newTransport() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConnsIdle,
		MaxIdleConnsPerHost:   maxConnsIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, Renegotiation: tls.RenegotiateFreelyAsClient},
	}}
}
