package sharedkey

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// devKey is the well-known Azurite/emulator key the captures in
// shared/reference/official-clients.md were signed with.
const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func mustCred(t testing.TB, account, key string) *Credential {
	t.Helper()
	c, err := NewCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refSign is an independent HMAC over a literal string to sign.
func refSign(t testing.TB, key, sts string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// readRaw parses a raw HTTP/1.1 request the way a server does (RequestURI
// set, headers as sent).
func readRaw(t testing.TB, raw string) *http.Request {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n") + "\r\n"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return req
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *sharedkey.Error", err, err)
	}
	return e
}

func TestStringToSign_DocumentedExample(t *testing.T) {
	// AUTHDOC's List jobs example. Its Authorization value
	// (ctzMq410TV3wS7upTBcunJTDLEJwMAZuFPfr0mrrA08=) is the placeholder
	// signature the Azure Storage docs reuse for unrelated strings, with no
	// key published, so the string to sign is what is pinned here.
	req := httptest.NewRequest("GET", "https://myaccount.westus.batch.azure.com/jobs?api-version=2014-01-01.1.0&timeout=20", nil)
	req.RequestURI = "" // as a client builds it
	req.Header.Set("ocp-date", "Tue, 29 Jul 2014 21:49:13 GMT")
	want := "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 29 Jul 2014 21:49:13 GMT\n/myaccount/jobs\napi-version:2014-01-01.1.0\ntimeout:20"
	if got := StringToSign(req, "myaccount"); got != want {
		t.Fatalf("string to sign\n got %q\nwant %q", got, want)
	}
}

// captured requests from shared/reference/official-clients.md. sts is what
// the client signed; canonical says whether that is also the documented form
// (otherwise Verify must accept it as a known variant).
var captured = []struct {
	name      string
	raw       string
	sts       string
	sig       string // signature as captured, if recorded
	canonical bool
}{
	{
		name: "az job list",
		raw: `GET /jobs?api-version=2022-10-01.16.0&maxresults=1000&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
User-Agent: python/3.11.2 msrest/0.6.21 azure-batch/13.0.1
Accept-Encoding: gzip, deflate
Accept: application/json
Connection: keep-alive
client-request-id: ba3b2a60-e786-11f1-b6f7-02fc00000001
accept-language: en-US
return-client-request-id: false
ocp-date: Mon, 23 Nov 2026 21:42:06 GMT
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:06 GMT\n/acct/jobs\napi-version:2022-10-01.16.0\nmaxresults:1000\ntimeout:30",
		sig:       "gznORbY+nKNPDDG3AWwTw1N6ExQ0FMIlm2MRgHH73u0=",
		canonical: true,
	},
	{
		name: "az task add",
		raw: `POST /jobs/j1/tasks?api-version=2022-10-01.16.0 HTTP/1.1
Host: 127.0.0.1:8080
Content-Type: application/json; odata=minimalmetadata; charset=utf-8
Content-Length: 506
accept-language: en-US
ocp-date: Mon, 23 Nov 2026 21:42:07 GMT
`,
		sts:       "POST\n\n\n506\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:07 GMT\n/acct/jobs/j1/tasks\napi-version:2022-10-01.16.0",
		canonical: true,
	},
	{
		name: "az task list with $filter and $select",
		raw: `GET /jobs/j1/tasks?api-version=2022-10-01.16.0&$filter=state%20eq%20%27completed%27&$select=id%2Cstate&maxresults=1000&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
ocp-date: Mon, 23 Nov 2026 21:42:08 GMT
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:08 GMT\n/acct/jobs/j1/tasks\n$filter:state eq 'completed'\n$select:id,state\napi-version:2022-10-01.16.0\nmaxresults:1000\ntimeout:30",
		canonical: true,
	},
	{
		name: "az nested file path with %2F and %20",
		raw: `GET /jobs/j1/tasks/t1/files/wd%2Fsub%20dir%2Fout%20file.txt?api-version=2022-10-01.16.0&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
ocp-date: Mon, 23 Nov 2026 21:42:09 GMT
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:09 GMT\n/acct/jobs/j1/tasks/t1/files/wd%2Fsub%20dir%2Fout%20file.txt\napi-version:2022-10-01.16.0\ntimeout:30",
		canonical: true,
	},
	{
		name: "az file range",
		raw: `GET /jobs/j1/tasks/t1/files/stdout.txt?api-version=2022-10-01.16.0&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
ocp-range: bytes=0-1
ocp-date: Mon, 23 Nov 2026 21:42:10 GMT
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:10 GMT\nocp-range:bytes=0-1\n/acct/jobs/j1/tasks/t1/files/stdout.txt\napi-version:2022-10-01.16.0\ntimeout:30",
		canonical: true,
	},
	{
		name: "az job terminate signs Content-Length 0",
		raw: `POST /jobs/j1/terminate?api-version=2022-10-01.16.0&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
Content-Type: application/json; odata=minimalmetadata; charset=utf-8
Content-Length: 0
ocp-date: Mon, 23 Nov 2026 21:42:11 GMT
`,
		sts:       "POST\n\n\n0\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:11 GMT\n/acct/jobs/j1/terminate\napi-version:2022-10-01.16.0\ntimeout:30",
		canonical: true,
	},
	{
		name: "az task delete signs Content-Length 0",
		raw: `DELETE /jobs/j1/tasks/t1?api-version=2022-10-01.16.0&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
Content-Length: 0
ocp-date: Mon, 23 Nov 2026 21:42:12 GMT
`,
		sts:       "DELETE\n\n\n0\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:12 GMT\n/acct/jobs/j1/tasks/t1\napi-version:2022-10-01.16.0\ntimeout:30",
		canonical: true,
	},
	{
		name: "az page 2 with $skiptoken",
		raw: `GET /jobs?api-version=2022-10-01.16.0&$skiptoken=page2%2Ftoken HTTP/1.1
Host: 127.0.0.1:8080
ocp-date: Mon, 23 Nov 2026 21:42:13 GMT
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:13 GMT\n/acct/jobs\n$skiptoken:page2/token\napi-version:2022-10-01.16.0",
		canonical: true,
	},
	{
		name: "JS job list signs content-type on GET",
		raw: `GET /jobs?api-version=2022-10-01.16.0 HTTP/1.1
Host: 127.0.0.1:8080
content-type: application/json; charset=utf-8
accept-language: en-US
x-ms-client-request-id: 61dcf33f-0000-0000-0000-000000000000
ocp-date: Mon, 23 Nov 2026 21:44:19 GMT
user-agent: @azure/batch/10.2.0 ms-rest-azure-js/2.1.0 ms-rest-js/2.7.0
Accept: */*
`,
		sts:       "GET\n\n\n\n\napplication/json; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:44:19 GMT\n/acct/jobs\napi-version:2022-10-01.16.0",
		sig:       "WolokuHVQYke8C7LQCg9OI5rX0YTuU1/0pficyeSeGw=",
		canonical: true,
	},
	{
		name: "JS job list with $filter",
		raw: `GET /jobs?api-version=2022-10-01.16.0&$filter=state%20eq%20%27active%27&maxresults=10 HTTP/1.1
Host: 127.0.0.1:8080
content-type: application/json; charset=utf-8
ocp-date: Mon, 23 Nov 2026 21:44:20 GMT
`,
		sts:       "GET\n\n\n\n\napplication/json; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:44:20 GMT\n/acct/jobs\n$filter:state eq 'active'\napi-version:2022-10-01.16.0\nmaxresults:10",
		canonical: true,
	},
	{
		name: "JS job terminate signs Content-Length 0",
		raw: `POST /jobs/j1/terminate?api-version=2022-10-01.16.0 HTTP/1.1
Host: 127.0.0.1:8080
content-type: application/json; odata=minimalmetadata; charset=utf-8
Content-Length: 0
ocp-date: Mon, 23 Nov 2026 21:44:21 GMT
`,
		sts:       "POST\n\n\n0\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:44:21 GMT\n/acct/jobs/j1/terminate\napi-version:2022-10-01.16.0",
		canonical: true,
	},
	{
		name: "JS job delete without Content-Length",
		raw: `DELETE /jobs/j1?api-version=2022-10-01.16.0 HTTP/1.1
Host: 127.0.0.1:8080
content-type: application/json; charset=utf-8
ocp-date: Mon, 23 Nov 2026 21:44:22 GMT
`,
		sts:       "DELETE\n\n\n\n\napplication/json; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:44:22 GMT\n/acct/jobs/j1\napi-version:2022-10-01.16.0",
		canonical: true,
	},
	{
		name: "Go v68 list: %24 name and + for spaces",
		raw: `GET /jobs?%24filter=state+eq+%27active%27&api-version=2020-09-01.12.0&maxresults=1000&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
Ocp-Date: Mon, 23 Nov 2026 21:45:00 GMT
Return-Client-Request-Id: false
Accept-Encoding: gzip
`,
		sts:       "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:45:00 GMT\n/acct/jobs\n$filter:state eq 'active'\napi-version:2020-09-01.12.0\nmaxresults:1000\ntimeout:30",
		canonical: true,
	},
	{
		name: "Go v68 page 2 re-encoded nextLink",
		raw: `GET /jobs?%24skiptoken=page2%2Ftoken&api-version=2022-10-01.16.0 HTTP/1.1
Host: 127.0.0.1:8080
Content-Type: application/json
Ocp-Date: Mon, 23 Nov 2026 21:45:01 GMT
`,
		sts:       "GET\n\n\n\n\napplication/json\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:45:01 GMT\n/acct/jobs\n$skiptoken:page2/token\napi-version:2022-10-01.16.0",
		canonical: true,
	},
	{
		name: "Go v68 terminate: net/http adds Content-Length 0 after signing empty",
		raw: `POST /jobs/j1/terminate?api-version=2020-09-01.12.0&timeout=30 HTTP/1.1
Host: 127.0.0.1:8080
Content-Length: 0
Content-Type: application/json; odata=minimalmetadata; charset=utf-8
Ocp-Date: Mon, 23 Nov 2026 21:45:02 GMT
`,
		sts:       "POST\n\n\n\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:45:02 GMT\n/acct/jobs/j1/terminate\napi-version:2020-09-01.12.0\ntimeout:30",
		canonical: false,
	},
}

func TestCapturedClients(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	for _, tc := range captured {
		t.Run(tc.name, func(t *testing.T) {
			req := readRaw(t, tc.raw)
			if got := StringToSign(req, "acct"); (got == tc.sts) != tc.canonical {
				t.Errorf("StringToSign canonical=%v\n got %q\nwant %q", tc.canonical, got, tc.sts)
			}
			sig := refSign(t, devKey, tc.sts)
			if tc.sig != "" && sig != tc.sig {
				t.Fatalf("reference signature %s differs from the captured %s: the table is wrong", sig, tc.sig)
			}
			req.Header.Set("Authorization", "SharedKey acct:"+sig)
			date, _ := ocpDate(req.Header)
			now, _ := time.Parse(http.TimeFormat, date)
			if err := cred.Verify(req, now.Add(time.Minute)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestKnownVariants signs the captured shapes the way the other official
// signers do and checks that Verify accepts each.
func TestKnownVariants(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	date := "Mon, 23 Nov 2026 21:42:06 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	tests := []struct {
		name, raw, sts string
	}{
		{
			name: "new Python: Content-Length 0 forced for a POST without the header",
			raw:  "POST /jobs/j1/enable?api-version=2024-07-01.20.0 HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nocp-date: " + date + "\n\n0\n",
			sts:  "POST\n\n\n0\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs/j1/enable\napi-version:2024-07-01.20.0",
		},
		{
			name: "JS/Python: query names kept in their case (timeOut) and sorted as sent",
			raw:  "GET /jobs?api-version=2025-06-01&timeOut=30&Zeta=1 HTTP/1.1\nHost: h\nocp-date: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs\nZeta:1\napi-version:2025-06-01\ntimeOut:30",
		},
		{
			name: "Python: empty query values skipped",
			raw:  "GET /jobs?api-version=2025-06-01&$filter=&$select= HTTP/1.1\nHost: h\nocp-date: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs\napi-version:2025-06-01",
		},
		{
			name: "JS: empty query values included",
			raw:  "GET /jobs?api-version=2025-06-01&$filter=&$select= HTTP/1.1\nHost: h\nocp-date: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs\n$filter:\n$select:\napi-version:2025-06-01",
		},
		{
			name: "Java: account lowercased in the resource",
			raw:  "GET /jobs?api-version=2025-06-01 HTTP/1.1\nHost: h\nocp-date: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs\napi-version:2025-06-01",
		},
		{
			name: "Date header instead of ocp-date",
			raw:  "GET /jobs?api-version=2025-06-01 HTTP/1.1\nHost: h\nDate: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n" + date + "\n\n\n\n\n\n/acct/jobs\napi-version:2025-06-01",
		},
		{
			name: "Go time.RFC1123 date with UTC",
			raw:  "GET /jobs?api-version=2024-07-01.20.0 HTTP/1.1\nHost: h\nOcp-Date: Mon, 23 Nov 2026 21:42:06 UTC\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Mon, 23 Nov 2026 21:42:06 UTC\n/acct/jobs\napi-version:2024-07-01.20.0",
		},
		{
			name: "absolute-form request target",
			raw:  "GET http://127.0.0.1:8080/jobs/j%2F1?api-version=2025-06-01 HTTP/1.1\nHost: h\nocp-date: " + date + "\n",
			sts:  "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:" + date + "\n/acct/jobs/j%2F1\napi-version:2025-06-01",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := readRaw(t, tc.raw)
			account := "acct"
			if strings.HasPrefix(tc.name, "Java") {
				account = "ACCT"
			}
			req.Header.Set("Authorization", "SharedKey "+account+":"+refSign(t, devKey, tc.sts))
			if err := cred.Verify(req, now); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestSignVerifyOverHTTP signs with a real net/http client and verifies in
// a real net/http server, so the Content-Length and path handling of both
// ends is exercised.
func TestSignVerifyOverHTTP(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	errc := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errc <- cred.Verify(r, time.Now())
	}))
	defer srv.Close()

	tests := []struct {
		name, method, target, body string
		header                     map[string]string
	}{
		{name: "list with paging token", method: "GET", target: "/jobs?api-version=2025-06-01&$skiptoken=page2%2Ftoken&maxresults=10"},
		{name: "file path with %2F and %20", method: "GET", target: "/jobs/j1/tasks/t1/files/wd%2Fsub%20dir%2Fout.txt?api-version=2025-06-01"},
		{name: "empty query values", method: "GET", target: "/jobs?api-version=2025-06-01&$filter=&recursive"},
		{name: "filter with spaces and quotes", method: "GET", target: "/jobs?api-version=2025-06-01&$filter=state%20eq%20%27active%27&$select=id,state"},
		{name: "plus in query", method: "GET", target: "/jobs?$filter=state+eq+%27active%27&api-version=2025-06-01"},
		{name: "upper-case query names", method: "GET", target: "/jobs?API-Version=2025-06-01&timeOut=30"},
		{name: "repeated query names", method: "GET", target: "/jobs?b=2&a=z&a=y&api-version=2025-06-01"},
		{name: "POST with body", method: "POST", target: "/jobs?api-version=2025-06-01", body: `{"id":"j1"}`, header: map[string]string{"Content-Type": "application/json; odata=minimalmetadata"}},
		{name: "POST without body (Content-Length 0 on the wire)", method: "POST", target: "/jobs/j1/terminate?api-version=2025-06-01"},
		{name: "DELETE", method: "DELETE", target: "/jobs/j1?api-version=2025-06-01"},
		{name: "conditional and range headers", method: "GET", target: "/jobs/j1/tasks/t1/files/stdout.txt?api-version=2025-06-01", header: map[string]string{"If-Match": "0x8D3D62350711C55", "If-Modified-Since": "Mon, 23 Nov 2026 21:42:06 GMT", "ocp-range": "bytes=0-9", "Ocp-Custom": "x"}},
		{name: "root path", method: "GET", target: "/?api-version=2025-06-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.target, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if err := cred.Sign(req); err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if err := <-errc; err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func signedRequest(t testing.TB, cred *Credential, date string) *http.Request {
	t.Helper()
	req := httptest.NewRequest("POST", "/jobs/j1/tasks?api-version=2025-06-01&timeout=30&$skiptoken=a%2Fb", strings.NewReader(`{"id":"t1"}`))
	req.Header.Set("Content-Type", "application/json; odata=minimalmetadata")
	req.Header.Set("Content-Length", "11")
	req.Header.Set("If-Match", "0x1")
	req.Header.Set("ocp-date", date)
	req.Header.Set("ocp-range", "bytes=0-1")
	if err := cred.Sign(req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerify_Tampering(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	date := "Mon, 23 Nov 2026 21:42:06 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	if err := cred.Verify(signedRequest(t, cred, date), now); err != nil {
		t.Fatalf("untampered request: %v", err)
	}
	tamper := map[string]func(r *http.Request){
		"method":           func(r *http.Request) { r.Method = "PUT" },
		"path":             func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/j1/", "/j2/", 1) },
		"path encoding":    func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/jobs/j1", "/jobs/j%31", 1) },
		"query value":      func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "timeout=30", "timeout=20", 1) },
		"query added":      func(r *http.Request) { r.URL.RawQuery += "&maxresults=1" },
		"query removed":    func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "&timeout=30", "", 1) },
		"skiptoken":        func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "a%2Fb", "a%2Fc", 1) },
		"content-type":     func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		"content-length":   func(r *http.Request) { r.Header.Set("Content-Length", "12") },
		"if-match":         func(r *http.Request) { r.Header.Set("If-Match", "0x2") },
		"range added":      func(r *http.Request) { r.Header.Set("Range", "bytes=0-1") },
		"ocp-date":         func(r *http.Request) { r.Header.Set("ocp-date", "Mon, 23 Nov 2026 21:42:07 GMT") },
		"ocp-range":        func(r *http.Request) { r.Header.Set("ocp-range", "bytes=0-2") },
		"ocp header added": func(r *http.Request) { r.Header.Set("ocp-extra", "1") },
		"signature":        func(r *http.Request) { r.Header.Set("Authorization", flipSig(r.Header.Get("Authorization"))) },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			req := signedRequest(t, cred, date)
			f(req)
			err := cred.Verify(req, now)
			if err == nil {
				t.Fatal("tampered request verified")
			}
			if e := asError(t, err); e.Status != 403 || e.Code != CodeAuthenticationFailed {
				t.Fatalf("got %d %s, want 403 AuthenticationFailed", e.Status, e.Code)
			}
		})
	}
}

func flipSig(auth string) string {
	b := []byte(auth)
	i := strings.IndexByte(auth, ':') + 1
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestVerify_Errors(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	date := "Mon, 23 Nov 2026 21:42:06 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	tests := []struct {
		name    string
		mutate  func(r *http.Request)
		now     time.Time
		status  int
		code    string
		message string
	}{
		{"missing Authorization", func(r *http.Request) { r.Header.Del("Authorization") }, now, 400, CodeInvalidAuthenticationInfo, "Authorization header is missing"},
		{"bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer eyJ0eXAi") }, now, 400, CodeInvalidAuthenticationInfo, `scheme "Bearer" is not supported`},
		{"no colon", func(r *http.Request) { r.Header.Set("Authorization", "SharedKey acct") }, now, 400, CodeInvalidAuthenticationInfo, "malformed"},
		{"empty signature", func(r *http.Request) { r.Header.Set("Authorization", "SharedKey acct:") }, now, 400, CodeInvalidAuthenticationInfo, "malformed"},
		{"signature not base64", func(r *http.Request) { r.Header.Set("Authorization", "SharedKey acct:!!!!") }, now, 400, CodeInvalidAuthenticationInfo, "not a base64-encoded HMAC-SHA256"},
		{"signature wrong length", func(r *http.Request) {
			r.Header.Set("Authorization", "SharedKey acct:"+base64.StdEncoding.EncodeToString(make([]byte, 31))+"AAAA")
		}, now, 400, CodeInvalidAuthenticationInfo, "not a base64-encoded HMAC-SHA256"},
		{"no date", func(r *http.Request) { r.Header.Del("ocp-date") }, now, 400, CodeInvalidAuthenticationInfo, "neither an ocp-date nor a Date header"},
		{"bad date", func(r *http.Request) { r.Header.Set("ocp-date", "yesterday") }, now, 400, CodeInvalidAuthenticationInfo, `ocp-date header "yesterday" is not an RFC 1123 date`},
		{"wrong account", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "acct:", "other:", 1))
		}, now, 403, CodeAuthenticationFailed, `account "other"`},
		{"20 minutes old", func(r *http.Request) {}, now.Add(20 * time.Minute), 403, CodeAuthenticationFailed, "the ocp-date header is 20m in the past; requests must be signed within 15 minutes of the server's time"},
		{"16m30s in the future", func(r *http.Request) {}, now.Add(-16*time.Minute - 30*time.Second), 403, CodeAuthenticationFailed, "16m30s in the future"},
		{"Date header too old", func(r *http.Request) {
			r.Header.Del("ocp-date")
			r.Header.Set("Date", date)
		}, now.Add(2 * time.Hour), 403, CodeAuthenticationFailed, "the Date header is 2h in the past"},
		{"signature mismatch", func(r *http.Request) { r.Header.Set("Authorization", flipSig(r.Header.Get("Authorization"))) }, now, 403, CodeAuthenticationFailed, "signature does not match"},
	}
	keyBytes, _ := base64.StdEncoding.DecodeString(devKey)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := signedRequest(t, cred, date)
			goodSig := strings.TrimPrefix(req.Header.Get("Authorization"), "SharedKey acct:")
			sts := StringToSign(req, "acct")
			tc.mutate(req)
			err := cred.Verify(req, tc.now)
			if err == nil {
				t.Fatal("verified")
			}
			e := asError(t, err)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("got %d %s, want %d %s", e.Status, e.Code, tc.status, tc.code)
			}
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q does not contain %q", e.Message, tc.message)
			}
			for _, secret := range []string{devKey, string(keyBytes), goodSig, sts, "api-version:"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks a secret or the string to sign", err)
				}
			}
		})
	}
}

func TestVerify_SkewBoundary(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	date := "Mon, 23 Nov 2026 21:42:06 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	for _, d := range []time.Duration{MaxClockSkew, -MaxClockSkew, 0} {
		if err := cred.Verify(signedRequest(t, cred, date), now.Add(d)); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	for _, d := range []time.Duration{MaxClockSkew + time.Second, -MaxClockSkew - time.Second} {
		if err := cred.Verify(signedRequest(t, cred, date), now.Add(d)); err == nil {
			t.Errorf("skew %v verified", d)
		}
	}
}

func TestVerify_OcpDateWinsOverDate(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	date := "Mon, 23 Nov 2026 21:42:06 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	req := httptest.NewRequest("GET", "/jobs?api-version=2025-06-01", nil)
	req.Header.Set("ocp-date", date)
	req.Header.Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT") // stale, signed, ignored for the window
	if err := cred.Sign(req); err != nil {
		t.Fatal(err)
	}
	if err := cred.Verify(req, now); err != nil {
		t.Fatal(err)
	}
}

func TestSign(t *testing.T) {
	cred := mustCred(t, "acct", devKey)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/jobs?api-version=2022-10-01.16.0&maxresults=1000&timeout=30", nil)
	req.Header.Set("ocp-date", "Mon, 23 Nov 2026 21:42:06 GMT")
	if err := cred.Sign(req); err != nil {
		t.Fatal(err)
	}
	// The az capture of the same request.
	if got, want := req.Header.Get("Authorization"), "SharedKey acct:gznORbY+nKNPDDG3AWwTw1N6ExQ0FMIlm2MRgHH73u0="; got != want {
		t.Fatalf("Authorization = %q, want %q", got, want)
	}

	// Without an ocp-date, Sign adds the current one in http.TimeFormat.
	req, _ = http.NewRequest("POST", "http://h/jobs?api-version=1", strings.NewReader("{}"))
	before := time.Now().Add(-time.Second)
	if err := cred.Sign(req); err != nil {
		t.Fatal(err)
	}
	d, err := time.Parse(http.TimeFormat, req.Header.Get("Ocp-Date"))
	if err != nil || d.Before(before.Truncate(time.Second)) || d.After(time.Now()) {
		t.Fatalf("ocp-date %q not the current time in http.TimeFormat (%v)", req.Header.Get("Ocp-Date"), err)
	}
	if got := StringToSign(req, "acct"); !strings.HasPrefix(got, "POST\n\n\n2\n") {
		t.Fatalf("Content-Length slot should come from ContentLength: %q", got)
	}
}

func TestNewCredential(t *testing.T) {
	secret := "not*base64*but*secret"
	_, err := NewCredential("acct", secret)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad key: err = %v", err)
	}
	if !strings.Contains(err.Error(), "not valid base64") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	for _, acct := range []string{"", "a:b", "a b"} {
		if _, err := NewCredential(acct, devKey); err == nil {
			t.Errorf("account %q accepted", acct)
		}
	}
	if _, err := NewCredential("acct", ""); err == nil {
		t.Error("empty key accepted")
	}
	c := mustCred(t, "acct", " "+devKey+"\n")
	if c.Account() != "acct" {
		t.Errorf("Account() = %q", c.Account())
	}
}

func TestParseAuthorization(t *testing.T) {
	a, s, err := ParseAuthorization("SharedKey acct:abc=")
	if err != nil || a != "acct" || s != "abc=" {
		t.Fatalf("got %q %q %v", a, s, err)
	}
	if _, _, err := ParseAuthorization("sharedkey  acct:abc="); err != nil {
		t.Fatalf("scheme case and extra space: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	for _, tc := range captured {
		i := strings.IndexByte(tc.raw, '\n')
		f.Add(tc.raw[:i], tc.raw[i+1:], "SharedKey acct:"+refSign(f, devKey, tc.sts))
	}
	f.Add("GET / HTTP/1.1", "Host: h\nocp-date: x\n", "SharedKey :")
	f.Add("POST /a%2Fb?%zz=1&&=&a=%&b=+ HTTP/1.1", "Host: h\nOcp-A: 1\nocp-a: 2\nContent-Length: 0\nDate: Mon, 23 Nov 2026 21:42:06 UTC\n", "SharedKey ACCT:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("GET http://x?y/z HTTP/1.1", "Host: h\n", "SharedKey acct:"+strings.Repeat("/", 44))
	cred := mustCred(f, "acct", devKey)
	now, _ := time.Parse(http.TimeFormat, "Mon, 23 Nov 2026 21:42:30 GMT")
	f.Fuzz(func(t *testing.T, line, headers, auth string) {
		raw := strings.ReplaceAll(line+"\n"+headers, "\n", "\r\n") + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		if err := cred.Verify(req, now); err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 403) {
				t.Fatalf("untyped or unexpected error: %v", err)
			}
		}
		// Whatever the request, what Sign signs Verify accepts.
		req.Header.Del("Date")
		req.Header.Del("Ocp-Date")
		for k := range req.Header {
			if strings.EqualFold(k, "ocp-date") {
				delete(req.Header, k)
			}
		}
		if err := cred.Sign(req); err != nil {
			t.Fatal(err)
		}
		if err := cred.Verify(req, time.Now()); err != nil {
			t.Fatalf("Sign then Verify: %v\nrequest: %q", err, raw)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	cred := mustCred(b, "acct", devKey)
	tc := captured[2] // az task list with $filter and $select
	req := readRaw(b, tc.raw)
	req.Header.Set("Authorization", "SharedKey acct:"+refSign(b, devKey, tc.sts))
	now, _ := time.Parse(http.TimeFormat, "Mon, 23 Nov 2026 21:42:30 GMT")
	if err := cred.Verify(req, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cred.Verify(req, now); err != nil {
			b.Fatal(err)
		}
	}
}
