package sharedkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxClockSkew is how far the request date may be from the server's clock,
// in either direction, as the Batch service allows.
const MaxClockSkew = 15 * time.Minute

// Credential is a Batch account name and its key. It signs requests (client
// side) and verifies them (server side). A Credential is safe for concurrent
// use and must not be copied after first use.
type Credential struct {
	account string
	key     []byte
	pool    sync.Pool // *scratch bound to key
}

// scratch is a builder plus an HMAC keyed for one Credential.
type scratch struct {
	builder
	mac hash.Hash
	sum []byte
}

// NewCredential returns a credential for account with the base64-encoded
// account key, as shown by the Azure portal or `openbatch dev`. The error for
// a bad key never contains the key.
func NewCredential(account, base64Key string) (*Credential, error) {
	if account == "" {
		return nil, errors.New("sharedkey: the account name is empty")
	}
	if strings.ContainsAny(account, ": \t\r\n/") {
		return nil, fmt.Errorf("sharedkey: the account name %q contains a colon, slash or space", clip(account))
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(base64Key))
	if err != nil {
		// The base64 error quotes the offending offset only, not the input,
		// but keep even that out: say what to do instead.
		var cie base64.CorruptInputError
		if errors.As(err, &cie) {
			return nil, fmt.Errorf("sharedkey: the account key for %q is not valid base64 (bad character or padding at offset %d); copy the key exactly as issued", clip(account), int64(cie))
		}
		return nil, fmt.Errorf("sharedkey: the account key for %q is not valid base64; copy the key exactly as issued", clip(account))
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("sharedkey: the account key for %q is empty", clip(account))
	}
	return &Credential{account: account, key: key}, nil
}

// Account returns the account name the credential signs and verifies for.
func (c *Credential) Account() string { return c.account }

func (c *Credential) get() *scratch {
	if s, ok := c.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{mac: hmac.New(sha256.New, c.key), sum: make([]byte, 0, sha256.Size)}
}

func (c *Credential) put(s *scratch) {
	// Do not keep unusually large buffers alive.
	if cap(s.buf) > 64<<10 || cap(s.out) > 64<<10 {
		return
	}
	c.pool.Put(s)
}

// mac returns the HMAC of msg in s.sum.
func (s *scratch) hmac(msg []byte) []byte {
	s.mac.Reset()
	s.mac.Write(msg)
	s.sum = s.mac.Sum(s.sum[:0])
	return s.sum
}

// Sign signs req in place. It sets the ocp-date header to the current time if
// the request has none, then sets "Authorization: SharedKey account:sig".
//
// The string to sign is the documented form (see [StringToSign]): the
// Content-Length slot is the Content-Length header if set, else
// req.ContentLength if positive, else empty; query names are lowercased.
// Sign must be called after the body, headers and URL are final.
func (c *Credential) Sign(req *http.Request) error {
	if req == nil || req.URL == nil {
		return errors.New("sharedkey: cannot sign a request without a URL")
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if _, ok := ocpDate(req.Header); !ok {
		req.Header.Set("Ocp-Date", time.Now().UTC().Format(http.TimeFormat))
	}
	s := c.get()
	defer c.put(s)
	s.reset(req)
	s.out = s.appendStringToSign(s.out[:0], req, variant{contentLength: contentLength(req), account: c.account})
	sig := base64.StdEncoding.EncodeToString(s.hmac(s.out))
	req.Header.Set("Authorization", "SharedKey "+c.account+":"+sig)
	return nil
}

// ocpDate returns the ocp-date header, whatever the case of its name.
func ocpDate(h http.Header) (string, bool) {
	if v, ok := h["Ocp-Date"]; ok && len(v) > 0 {
		return v[0], true
	}
	for name, v := range h {
		if len(v) > 0 && strings.EqualFold(name, "ocp-date") {
			return v[0], true
		}
	}
	return "", false
}
