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
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/internal/store"
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

// Authorizer checks a node's own credential.
type Authorizer interface {
	// AuthorizeNode returns nil if cred is the credential of node nodeID of
	// pool poolID, ErrUnknownNode if no such node is registered, and
	// another error otherwise.
	AuthorizeNode(ctx context.Context, poolID, nodeID, cred string) error
}

// Handler serves c over HTTP for remote agents. The join token (a bearer
// token) only lets a machine register a new node; every other call, and
// registering an existing node again, needs that node's own credential,
// which a registration returns, checked by a for the node the call names.
func Handler(c Coordinator, a Authorizer, joinToken string) http.Handler {
	mux := http.NewServeMux()
	unauthorized := func(w http.ResponseWriter) {
		http.Error(w, "node credential missing or wrong: a node joins with the join token (the server's DATA_DIR/join-token, given with --token-file) and then uses the credential it was given", http.StatusUnauthorized)
	}
	// unavailable answers a call the server cannot serve while its
	// database is out of reach: 503, which the agent retries, on another
	// of its servers if it knows several. The database's error stays in
	// the server (it may name hosts and users).
	unavailable := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the server cannot reach its database; retry", http.StatusServiceUnavailable)
	}
	// node is what a call says about whose it is.
	type node struct {
		PoolID string `json:"poolId"`
		NodeID string `json:"nodeId"`
	}
	handle := func(name string, decode func([]byte) (node, error), fn func(ctx context.Context, body []byte, byJoinToken bool) (any, error)) {
		mux.HandleFunc("POST "+PathPrefix+name, func(w http.ResponseWriter, r *http.Request) {
			bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || bearer == "" {
				unauthorized(w)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
			if err != nil {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			who, err := decode(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			byJoinToken := false
			if name == "register" && subtle.ConstantTimeCompare([]byte(bearer), []byte(joinToken)) == 1 {
				byJoinToken = true
			} else if err := a.AuthorizeNode(r.Context(), who.PoolID, who.NodeID, bearer); err != nil {
				if store.Unavailable(err) {
					// Not a refusal: the credential could not be checked.
					unavailable(w)
					return
				}
				if errors.Is(err, ErrUnknownNode) && name == "acquire" {
					// A node removed from its pool learns it on its next
					// poll, and leaves; that tells nobody anything.
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(Work{Leave: true})
					return
				}
				if errors.Is(err, ErrUnknownNode) && name != "register" {
					http.Error(w, err.Error(), http.StatusGone)
					return
				}
				unauthorized(w)
				return
			}
			out, err := fn(r.Context(), body, byJoinToken)
			switch {
			case errors.Is(err, ErrStaleLease):
				http.Error(w, err.Error(), http.StatusConflict)
				return
			case errors.Is(err, ErrNodeExists):
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			case errors.Is(err, ErrUnknownNode):
				http.Error(w, err.Error(), http.StatusGone)
				return
			case store.Unavailable(err):
				unavailable(w)
				return
			case err != nil:
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	handle("register", func(b []byte) (node, error) {
		var v Registration
		err := json.Unmarshal(b, &v)
		return node{v.PoolID, v.NodeID}, err
	}, func(ctx context.Context, b []byte, byJoinToken bool) (any, error) {
		var v Registration
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		v.ByJoinToken = byJoinToken
		return c.Register(ctx, v)
	})
	handle("acquire", func(b []byte) (node, error) {
		var v NodeStatus
		err := json.Unmarshal(b, &v)
		return node{v.PoolID, v.NodeID}, err
	}, func(ctx context.Context, b []byte, _ bool) (any, error) {
		var v NodeStatus
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return c.Acquire(ctx, v)
	})
	handle("complete", func(b []byte) (node, error) {
		var v Report
		err := json.Unmarshal(b, &v)
		return node{v.PoolID, v.NodeID}, err
	}, func(ctx context.Context, b []byte, _ bool) (any, error) {
		var v Report
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return c.Complete(ctx, v)
	})
	handle("leave", func(b []byte) (node, error) {
		var v node
		err := json.Unmarshal(b, &v)
		return v, err
	}, func(ctx context.Context, b []byte, _ bool) (any, error) {
		l, ok := c.(Leaver)
		if !ok {
			return nil, errors.New("this server does not let nodes leave")
		}
		var v node
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return struct{}{}, l.Leave(ctx, v.PoolID, v.NodeID)
	})
	handle("preprelease", func(b []byte) (node, error) {
		var v PrepReleaseReport
		err := json.Unmarshal(b, &v)
		return node{v.PoolID, v.NodeID}, err
	}, func(ctx context.Context, b []byte, _ bool) (any, error) {
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
	// BaseURL is the server's endpoint, e.g. http://127.0.0.1:8080, or
	// several servers' endpoints separated by commas (servers sharing one
	// database): calls go to the one that answered last and fail over to
	// the next when it cannot be reached.
	BaseURL string
	// Token is the join token, used to register a new node.
	Token string
	// HTTP is the client calls go through; nil: defaultHTTP.
	HTTP *http.Client

	mu sync.Mutex
	// current indexes the server that answered last.
	current int
	// credential is the node's own credential: given (SetCredential) from
	// the node's identity file, or set by Register.
	credential string
}

// SetCredential sets the node's own credential, e.g. from its identity
// file, for the calls that follow (Register included).
func (c *Client) SetCredential(cred string) {
	c.mu.Lock()
	c.credential = cred
	c.mu.Unlock()
}

// Credential returns the node's own credential ("" before it registered).
func (c *Client) Credential() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.credential
}

var _ Coordinator = (*Client)(nil)

func (c *Client) call(ctx context.Context, name string, in, out any) error {
	bearer := c.Credential()
	if bearer == "" {
		bearer = c.Token
	}
	return c.callAs(ctx, bearer, name, in, out)
}

func (c *Client) callAs(ctx context.Context, bearer, name string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	// Several servers: stay with the one that answered last, and move on
	// to the next when it cannot be reached or is unavailable.
	urls := c.servers()
	c.mu.Lock()
	first := c.current
	c.mu.Unlock()
	var lastErr error
	for i := range urls {
		k := (first + i) % len(urls)
		retry, err := c.callOne(ctx, urls[k], bearer, name, body, out)
		if !retry {
			if i > 0 && err == nil {
				c.mu.Lock()
				c.current = k
				c.mu.Unlock()
			}
			return err
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

// servers returns the server URLs: BaseURL holds one, or several separated
// by commas.
func (c *Client) servers() []string {
	var out []string
	for _, u := range strings.Split(c.BaseURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimRight(u, "/"))
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// callOne makes the call on one server; retry says another server may
// answer it (this one could not be reached, or is unavailable).
func (c *Client) callOne(ctx context.Context, base, bearer, name string, body []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathPrefix+name, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if out == nil {
			return false, nil
		}
		return false, json.NewDecoder(resp.Body).Decode(out)
	case http.StatusConflict:
		return false, ErrStaleLease
	case http.StatusGone:
		return false, ErrUnknownNode
	case http.StatusUnauthorized:
		return false, fmt.Errorf("%s: %w", name, errUnauthorized)
	case http.StatusForbidden:
		return false, fmt.Errorf("%s: %w", name, ErrNodeExists)
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		retry = true
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return retry, fmt.Errorf("%s: server answered %s: %s", name, resp.Status, strings.TrimSpace(string(msg)))
}

// defaultHTTP is the client of a Client without one. A node has a poll
// waiting and a report per slot in flight at once: net/http's default of 2
// idle connections per host would close one of them after most calls and
// open a new one for the next. The transport is built here rather than
// cloned from http.DefaultTransport, which a program may have replaced.
var defaultHTTP = &http.Client{
	Timeout: 2 * maxWaitHint,
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	},
}

// maxWaitHint bounds a long-poll; the HTTP client allows twice as long.
const maxWaitHint = 40 * time.Second

// errUnauthorized is a call the server refused the credential of.
var errUnauthorized = errors.New("the server refused the node's credential")

// Register implements Coordinator: with the node's own credential when it
// has one (a restarted node, from its identity file), else — or when the
// server no longer knows that credential — with the join token. On success
// the client keeps the credential the server returned.
func (c *Client) Register(ctx context.Context, reg Registration) (*NodeConfig, error) {
	var out NodeConfig
	err := c.call(ctx, "register", reg, &out)
	if errors.Is(err, errUnauthorized) && c.Credential() != "" {
		err = c.callAs(ctx, c.Token, "register", reg, &out)
	}
	if err != nil {
		return nil, err
	}
	c.SetCredential(out.Credential)
	return &out, nil
}

// Acquire implements Coordinator.
func (c *Client) Acquire(ctx context.Context, st NodeStatus) (*Work, error) {
	var out Work
	return &out, c.call(ctx, "acquire", st, &out)
}

// Complete implements Coordinator.
func (c *Client) Complete(ctx context.Context, rep Report) (*Completed, error) {
	// A server older than Report.Next answers {}: no assignments.
	var out Completed
	if err := c.call(ctx, "complete", rep, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Leave implements Leaver.
func (c *Client) Leave(ctx context.Context, poolID, nodeID string) error {
	return c.call(ctx, "leave", struct {
		PoolID string `json:"poolId"`
		NodeID string `json:"nodeId"`
	}{poolID, nodeID}, nil)
}

// PrepRelease implements Coordinator.
func (c *Client) PrepRelease(ctx context.Context, rep PrepReleaseReport) error {
	return c.call(ctx, "preprelease", rep, nil)
}
