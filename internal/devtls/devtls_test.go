package devtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnsureLifecycle covers creation, reuse across restarts, renewal of
// an expiring server certificate under the same CA, and a new CA when the
// CA itself expires.
func TestEnsureLifecycle(t *testing.T) {
	dir := t.TempDir()
	f, err := Ensure(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Created {
		t.Error("first Ensure did not report creating files")
	}
	for path, mode := range map[string]os.FileMode{f.CAKey: 0o600, f.Key: 0o600, f.CACert: 0o644, f.Cert: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	ca, leaf := read(t, f.CACert), read(t, f.Cert)

	steps := []struct {
		name                 string
		now                  time.Time
		wantCreated          bool
		wantSameCA, sameLeaf bool
	}{
		{"restart a day later keeps both", t0.Add(24 * time.Hour), false, true, true},
		{"server certificate near expiry is renewed under the same CA", t0.Add(360 * 24 * time.Hour), true, true, false},
		{"expired CA is replaced", t0.Add(6 * 365 * 24 * time.Hour), true, false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f, err := Ensure(dir, st.now)
			if err != nil {
				t.Fatal(err)
			}
			if f.Created != st.wantCreated {
				t.Errorf("Created = %v, want %v", f.Created, st.wantCreated)
			}
			gotCA, gotLeaf := read(t, f.CACert), read(t, f.Cert)
			if bytes.Equal(gotCA, ca) != st.wantSameCA {
				t.Errorf("CA kept = %v, want %v", bytes.Equal(gotCA, ca), st.wantSameCA)
			}
			if bytes.Equal(gotLeaf, leaf) != st.sameLeaf {
				t.Errorf("server certificate kept = %v, want %v", bytes.Equal(gotLeaf, leaf), st.sameLeaf)
			}
			ca, leaf = gotCA, gotLeaf
			verifyChain(t, f, st.now)
		})
	}
}

func verifyChain(t *testing.T, f Files, now time.Time) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read(t, f.CACert)) {
		t.Fatal("CA file holds no certificate")
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range Hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("certificate does not verify for %s at %v: %v", h, now, err)
		}
	}
}

// TestHandshake serves TLS with the generated files and connects to every
// host name trusting only the CA file, as a client given SSL_CERT_FILE does.
func TestHandshake(t *testing.T) {
	f, err := Ensure(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(read(t, f.CACert))
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, name := range []string{"127.0.0.1", "localhost"} {
		c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", port), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("handshake as %s: %v", name, err)
			continue
		}
		c.Close()
	}
	if c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		c.Close()
		t.Error("handshake succeeded without trusting the CA")
	}
}

func TestEnsureReplacesCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := Ensure(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Key, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	f2, err := Ensure(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !f2.Created {
		t.Error("corrupt server key was not replaced")
	}
	verifyChain(t, f2, t0)
}
