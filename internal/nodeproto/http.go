package nodeproto

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// PathPrefix is where the node protocol is served, beside the Batch API.
const PathPrefix = "/_openbatch/agent/v1/"

// JoinToken derives the token nodes use to join from the account key. The
// key itself never leaves the server; rotating the key rotates the token.
func JoinToken(accountKey []byte) string {
	m := hmac.New(sha256.New, accountKey)
	m.Write([]byte("openbatch node join token v1"))
	return "obj1." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Handler serves c over HTTP for remote agents, requiring token as a
// bearer token.
func Handler(c Coordinator, token string) http.Handler {
	mux := http.NewServeMux()
	handle := func(name string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc("POST "+PathPrefix+name, func(w http.ResponseWriter, r *http.Request) {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				http.Error(w, "node join token missing or wrong: pass the token in the server's DATA_DIR/join-token with --token-file", http.StatusUnauthorized)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
			if err != nil {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			out, err := fn(r.Context(), body)
			switch {
			case errors.Is(err, ErrStaleLease):
				http.Error(w, err.Error(), http.StatusConflict)
				return
			case errors.Is(err, ErrUnknownNode):
				http.Error(w, err.Error(), http.StatusGone)
				return
			case err != nil:
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	handle("register", func(ctx context.Context, b []byte) (any, error) {
		var v Registration
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return c.Register(ctx, v)
	})
	handle("acquire", func(ctx context.Context, b []byte) (any, error) {
		var v NodeStatus
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return c.Acquire(ctx, v)
	})
	handle("complete", func(ctx context.Context, b []byte) (any, error) {
		var v Report
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return struct{}{}, c.Complete(ctx, v)
	})
	handle("preprelease", func(ctx context.Context, b []byte) (any, error) {
		var v PrepReleaseReport
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return struct{}{}, c.PrepRelease(ctx, v)
	})
	return mux
}

// Client is a Coordinator reached over HTTP.
type Client struct {
	// BaseURL is the server's endpoint, e.g. http://127.0.0.1:8080.
	BaseURL string
	Token   string
	HTTP    *http.Client
}

var _ Coordinator = (*Client)(nil)

func (c *Client) call(ctx context.Context, name string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+PathPrefix+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * maxWaitHint}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if out == nil {
			return nil
		}
		return json.NewDecoder(resp.Body).Decode(out)
	case http.StatusConflict:
		return ErrStaleLease
	case http.StatusGone:
		return ErrUnknownNode
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("%s: server answered %s: %s", name, resp.Status, strings.TrimSpace(string(msg)))
}

// maxWaitHint bounds a long-poll; the HTTP client allows twice as long.
const maxWaitHint = 40 * time.Second

// Register implements Coordinator.
func (c *Client) Register(ctx context.Context, reg Registration) (*NodeConfig, error) {
	var out NodeConfig
	return &out, c.call(ctx, "register", reg, &out)
}

// Acquire implements Coordinator.
func (c *Client) Acquire(ctx context.Context, st NodeStatus) (*Work, error) {
	var out Work
	return &out, c.call(ctx, "acquire", st, &out)
}

// Complete implements Coordinator.
func (c *Client) Complete(ctx context.Context, rep Report) error {
	return c.call(ctx, "complete", rep, nil)
}

// PrepRelease implements Coordinator.
func (c *Client) PrepRelease(ctx context.Context, rep PrepReleaseReport) error {
	return c.call(ctx, "preprelease", rep, nil)
}
