package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/testenv"
)

// tlsDev is an `openbatch dev --tls` process and what its banner printed.
type tlsDev struct {
	endpoint, caFile string
	banner           string
	stop             func()
}

// startTLSDev runs `openbatch dev --tls` on port in dataDir, reads its
// banner up to the token issuer section, and stops the process group when
// t ends or stop is called.
func startTLSDev(t *testing.T, dataDir string, port int) *tlsDev {
	t.Helper()
	cmd := exec.Command(openbatchBin, "dev", "--tls", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = cleanEnv(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("openbatch dev --tls did not exit within 15s of SIGTERM")
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Cleanup(stop)
	d := &tlsDev{stop: stop}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(20 * time.Second)
	for !strings.Contains(d.banner, "scope:") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("openbatch dev --tls ended its output early:\n%s", d.banner)
			}
			d.banner += l + "\n"
			if ep, ok := strings.CutPrefix(l, "  export AZURE_BATCH_ENDPOINT="); ok {
				d.endpoint = ep
			}
			if ca, ok := strings.CutPrefix(l, "  export SSL_CERT_FILE="); ok {
				d.caFile = ca
			}
		case <-timeout:
			t.Fatalf("no complete banner from openbatch dev --tls within 20s:\n%s", d.banner)
		}
	}
	go func() {
		for range lines { // keep draining so the process never blocks on stdout
		}
	}()
	return d
}

func (d *tlsDev) client(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(d.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", d.caFile)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestDevTLS runs `openbatch dev --tls` as a user would: the banner says how
// to trust the CA and how to get tokens; the az CLI works with
// REQUESTS_CA_BUNDLE and without any insecure option; the CA and the token
// signing key survive a restart.
func TestDevTLS(t *testing.T) {
	dataDir := t.TempDir()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	d := startTLSDev(t, dataDir, port)
	if !strings.HasPrefix(d.endpoint, "https://127.0.0.1:") || d.caFile != filepath.Join(dataDir, "tls", "ca.pem") {
		t.Fatalf("endpoint %q, CA %q from banner:\n%s", d.endpoint, d.caFile, d.banner)
	}
	for _, want := range []string{"REQUESTS_CA_BUNDLE=" + d.caFile, "NODE_EXTRA_CA_CERTS=" + d.caFile,
		devissuer.TenantID, devissuer.ClientID, devissuer.ClientSecret, "authority host: " + d.endpoint + "/"} {
		if !strings.Contains(d.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, d.banner)
		}
	}
	caBefore, err := os.ReadFile(d.caFile)
	if err != nil {
		t.Fatal(err)
	}

	// A client-credentials token from the dev issuer, used before and after a restart.
	hc := d.client(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {devissuer.ClientID},
		"client_secret": {devissuer.ClientSecret}, "scope": {"https://batch.core.windows.net//.default"}}
	resp, err := hc.PostForm(d.endpoint+"/"+devissuer.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token request: %s %v", resp.Status, err)
	}
	listPools := func(d *tlsDev) int {
		req, _ := http.NewRequest("GET", d.endpoint+"/pools?api-version=2024-07-01.20.0", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := d.client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := listPools(d); s != 200 {
		t.Fatalf("pool list with a dev issuer token: %d", s)
	}

	if bin, err := exec.LookPath("az"); err == nil {
		env := cleanEnv([]string{"AZURE_CONFIG_DIR=" + t.TempDir(), "AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_ONLY_SHOW_ERRORS=true",
			"AZURE_BATCH_ACCOUNT=devbatch1", "AZURE_BATCH_ACCESS_KEY=" + app.DevAccountKey, "AZURE_BATCH_ENDPOINT=" + d.endpoint})
		az := func(extra ...string) (string, error) {
			cmd := exec.Command(bin, "batch", "pool", "list", "-o", "json")
			cmd.Env = append(append([]string{}, env...), extra...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.String(), err
		}
		if out, err := az("REQUESTS_CA_BUNDLE=" + d.caFile); err != nil || strings.TrimSpace(out) != "[]" {
			t.Errorf("az batch pool list with REQUESTS_CA_BUNDLE: %v\n%s", err, out)
		}
		if out, err := az(); err == nil || !strings.Contains(out, "CERTIFICATE_VERIFY_FAILED") {
			t.Errorf("az batch pool list without trusting the CA: err %v, want a certificate error\n%s", err, out)
		}
	} else {
		t.Log("az not installed; skipping the Azure CLI part")
	}

	// The official @azure/identity gets a token over TLS, trusting the CA
	// through NODE_EXTRA_CA_CERTS.
	if node, modules, err := nodeSDK(); err == nil {
		if _, err := os.Stat(filepath.Join(modules, "@azure", "identity", "package.json")); err == nil {
			cmd := exec.Command(node, filepath.Join("js", "identity_token.js"))
			cmd.Env = cleanEnv([]string{"NODE_PATH=" + modules, "NODE_EXTRA_CA_CERTS=" + d.caFile, "OB_ENDPOINT=" + d.endpoint,
				"OB_TENANT=" + devissuer.TenantID, "OB_CLIENT=" + devissuer.ClientID, "OB_SECRET=" + devissuer.ClientSecret})
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("@azure/identity token: %v\n%s", err, stderr.String())
			} else if got := strings.TrimSpace(stdout.String()); got != `{"status":200,"pools":0}` {
				t.Errorf("@azure/identity token then pool list: %s", got)
			}
		} else {
			t.Log("@azure/identity not installed in tools/node; skipping the Node part")
		}
	} else {
		t.Logf("skipping the Node part: %v", err)
	}

	// Restart on the same data directory and port. The CA is kept, so
	// users' trust stays valid, and the signing key is kept, so issued
	// tokens stay valid.
	d.stop()
	d2 := startTLSDev(t, dataDir, port)
	caAfter, err := os.ReadFile(d2.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("the CA changed across a restart")
	}
	if s := listPools(d2); s != 200 {
		t.Errorf("pool list with a token issued before the restart: %d", s)
	}
}
