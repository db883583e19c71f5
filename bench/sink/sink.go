// Package sink is a fast, discarding Azure Blob Storage endpoint for
// openbatch's benchmark harness: it speaks just enough of the Blob REST API
// (Create Container, Put Blob, Put Block, Put Block List, Get Blob
// Properties, List Blobs with an empty result, container properties) for
// azcopy, the Azure CLI and the azblob SDK to upload to it, verifies
// Content-MD5 when a request sends one, and throws the bytes away. It never
// checks a SAS or a Shared Key signature. It keeps only each blob's size and
// Content-MD5, so that clients that read properties back after an upload
// (azcopy's length check) see what they wrote.
//
// It exists so that a benchmark measures the clients, not the storage
// emulator: Azurite tops out near 45 MB/s here.
package sink

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what the sink received since the last reset.
type Stats struct {
	Requests    int64 `json:"requests"`
	PutBlob     int64 `json:"putBlob"`
	PutBlock    int64 `json:"putBlock"`
	PutList     int64 `json:"putBlockList"`
	Head        int64 `json:"getBlobProperties"`
	List        int64 `json:"listBlobs"`
	Other       int64 `json:"other"`
	Bytes       int64 `json:"bytes"`
	MD5Verified int64 `json:"md5Verified"`
	MD5Refused  int64 `json:"md5Refused"`
}

// Sink is the HTTP handler. The zero value is not usable; call New.
type Sink struct {
	requests, putBlob, putBlock, putList, head, list, other, bytes, md5ok, md5bad atomic.Int64

	mu     sync.Mutex
	blobs  map[string]blobInfo         // "container/blob" -> committed blob
	staged map[string]map[string]int64 // "container/blob" -> block ID -> size
	bufs   sync.Pool
}

type blobInfo struct {
	size int64
	md5  string
	etag string
	mod  time.Time
}

// New returns an empty sink.
func New() *Sink {
	return &Sink{blobs: map[string]blobInfo{}, staged: map[string]map[string]int64{},
		bufs: sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}}
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	return Stats{Requests: s.requests.Load(), PutBlob: s.putBlob.Load(), PutBlock: s.putBlock.Load(),
		PutList: s.putList.Load(), Head: s.head.Load(), List: s.list.Load(), Other: s.other.Load(),
		Bytes: s.bytes.Load(), MD5Verified: s.md5ok.Load(), MD5Refused: s.md5bad.Load()}
}

// Reset zeroes the counters and forgets every blob.
func (s *Sink) Reset() {
	for _, c := range []*atomic.Int64{&s.requests, &s.putBlob, &s.putBlock, &s.putList, &s.head, &s.list, &s.other, &s.bytes, &s.md5ok, &s.md5bad} {
		c.Store(0)
	}
	s.mu.Lock()
	s.blobs, s.staged = map[string]blobInfo{}, map[string]map[string]int64{}
	s.mu.Unlock()
}

// Serve listens on addr ("127.0.0.1:0" for any port) and serves the sink
// in the background. It returns the base URL (http://host:port) and a
// function that stops the server.
func Serve(s *Sink, addr string) (string, func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// ServeHTTP implements http.Handler. Paths are /{account}/{container}[/{blob}];
// the control paths GET /__stats and POST /__reset are the harness's own.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/__stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
		return
	case "/__reset":
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.requests.Add(1)
	q := r.URL.Query()
	h := w.Header()
	h.Set("x-ms-version", "2025-07-05")
	h.Set("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 2 || parts[1] == "" {
		// Account-level requests (service properties, list containers).
		s.other.Add(1)
		drain(r)
		if r.Method == http.MethodGet && q.Get("comp") == "list" {
			writeXML(w, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Containers/><NextMarker/></EnumerationResults>`)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	container := parts[1]
	if len(parts) == 2 || parts[2] == "" {
		s.containerOp(w, r, container)
		return
	}
	key := container + "/" + parts[2]
	switch {
	case r.Method == http.MethodPut && q.Get("comp") == "block":
		s.putBlock.Add(1)
		n, ok := s.receive(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		if s.staged[key] == nil {
			s.staged[key] = map[string]int64{}
		}
		s.staged[key][q.Get("blockid")] = n
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPut && q.Get("comp") == "blocklist":
		s.putList.Add(1)
		s.commit(w, r, key)
	case r.Method == http.MethodPut && q.Get("comp") == "":
		s.putBlob.Add(1)
		n, ok := s.receive(w, r)
		if !ok {
			return
		}
		md := r.Header.Get("x-ms-blob-content-md5")
		if md == "" {
			md = r.Header.Get("Content-MD5")
		}
		s.store(w, key, n, md)
	case r.Method == http.MethodHead || (r.Method == http.MethodGet && q.Get("comp") == ""):
		s.head.Add(1)
		s.mu.Lock()
		b, ok := s.blobs[key]
		s.mu.Unlock()
		if !ok {
			fail(w, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
			return
		}
		h.Set("Content-Length", strconv.FormatInt(b.size, 10))
		h.Set("ETag", b.etag)
		h.Set("Last-Modified", b.mod.Format(http.TimeFormat))
		h.Set("x-ms-blob-type", "BlockBlob")
		h.Set("x-ms-creation-time", b.mod.Format(http.TimeFormat))
		h.Set("Content-Type", "application/octet-stream")
		if b.md5 != "" {
			h.Set("Content-MD5", b.md5)
		}
		if r.Method == http.MethodGet {
			// The sink keeps no bytes: a download gets zeros of the right length.
			w.WriteHeader(http.StatusOK)
			_, _ = io.CopyN(w, zeros{}, b.size)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		s.other.Add(1)
		drain(r)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Sink) containerOp(w http.ResponseWriter, r *http.Request, container string) {
	q := r.URL.Query()
	drain(r)
	switch {
	case r.Method == http.MethodGet && q.Get("comp") == "list":
		s.list.Add(1)
		writeXML(w, fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://%s/" ContainerName="%s"><Blobs/><NextMarker/></EnumerationResults>`, r.Host, container))
	case r.Method == http.MethodPut:
		s.other.Add(1)
		w.Header().Set("ETag", `"0x8D000000000000"`)
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodDelete:
		s.other.Add(1)
		w.WriteHeader(http.StatusAccepted)
	default: // Get Container Properties (GET/HEAD ?restype=container) and the rest.
		s.other.Add(1)
		w.Header().Set("ETag", `"0x8D000000000000"`)
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
	}
}

// receive reads the body, verifying its Content-MD5 when one is sent. It
// answers the request itself when it fails.
func (s *Sink) receive(w http.ResponseWriter, r *http.Request) (int64, bool) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	want := r.Header.Get("Content-MD5")
	var n int64
	var err error
	if want == "" {
		n, err = io.CopyBuffer(io.Discard, onlyReader{r.Body}, *bp)
	} else {
		hh := md5.New()
		n, err = io.CopyBuffer(hh, onlyReader{r.Body}, *bp)
		if err == nil && base64.StdEncoding.EncodeToString(hh.Sum(nil)) != want {
			s.md5bad.Add(1)
			s.bytes.Add(n)
			fail(w, http.StatusBadRequest, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.")
			return n, false
		}
		if err == nil {
			s.md5ok.Add(1)
		}
	}
	s.bytes.Add(n)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidInput", "reading the body: "+err.Error())
		return n, false
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		fail(w, http.StatusBadRequest, "InvalidInput", "short body")
		return n, false
	}
	if want != "" {
		w.Header().Set("Content-MD5", want)
	}
	return n, true
}

func (s *Sink) commit(w http.ResponseWriter, r *http.Request, key string) {
	var list struct {
		Items []struct {
			XMLName xml.Name
			ID      string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&list); err != nil {
		fail(w, http.StatusBadRequest, "InvalidXmlDocument", err.Error())
		return
	}
	s.mu.Lock()
	staged := s.staged[key]
	var size int64
	for _, it := range list.Items {
		n, ok := staged[it.ID]
		if !ok {
			s.mu.Unlock()
			fail(w, http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
			return
		}
		size += n
	}
	delete(s.staged, key)
	s.mu.Unlock()
	s.store(w, key, size, r.Header.Get("x-ms-blob-content-md5"))
}

func (s *Sink) store(w http.ResponseWriter, key string, size int64, md string) {
	now := time.Now().UTC()
	etag := fmt.Sprintf(`"0x%X"`, now.UnixNano())
	s.mu.Lock()
	s.blobs[key] = blobInfo{size: size, md5: md, etag: etag, mod: now}
	s.mu.Unlock()
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", now.Format(http.TimeFormat))
	h.Set("x-ms-request-server-encrypted", "true")
	if md != "" && h.Get("Content-MD5") == "" {
		h.Set("Content-MD5", md)
	}
	w.WriteHeader(http.StatusCreated)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func writeXML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
}

func drain(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }

// onlyReader hides WriterTo/ReaderFrom so that CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
