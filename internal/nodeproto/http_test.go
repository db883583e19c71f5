package nodeproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

// coord is a Coordinator whose calls fail with err (nil: an empty answer).
type coord struct{ err error }

func (c coord) Register(context.Context, Registration) (*NodeConfig, error) {
	return &NodeConfig{}, c.err
}
func (c coord) Acquire(context.Context, NodeStatus) (*Work, error)   { return &Work{}, c.err }
func (c coord) Complete(context.Context, Report) (*Completed, error) { return &Completed{}, c.err }
func (c coord) PrepRelease(context.Context, PrepReleaseReport) error { return c.err }

// auth is an Authorizer that answers err.
type auth struct{ err error }

func (a auth) AuthorizeNode(context.Context, string, string, string) error { return a.err }

var errDatabaseDown = fmt.Errorf("get node: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})

// The handler answers a call it cannot serve because the database is out
// of reach with 503, whether the credential check or the call itself met
// it, and never with the database's error text; a wrong credential is
// still 401 and an unknown node 410.
func TestHandlerStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		auth, call error
		want       int
	}{
		{"served", nil, nil, http.StatusOK},
		{"credential check without database", errDatabaseDown, nil, http.StatusServiceUnavailable},
		{"call without database", nil, errDatabaseDown, http.StatusServiceUnavailable},
		{"wrong credential", errors.New("wrong node credential"), nil, http.StatusUnauthorized},
		{"unknown node", ErrUnknownNode, nil, http.StatusGone},
		{"stale lease", nil, ErrStaleLease, http.StatusConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(coord{tc.call}, auth{tc.auth}, "join"))
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+PathPrefix+"complete", strings.NewReader(`{"poolId":"p","nodeId":"n"}`))
			req.Header.Set("Authorization", "Bearer cred")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

// A node that knows several servers moves on to the next when one answers
// that its database is out of reach, and stays with the one that served.
func TestClientFailsOverFromUnavailableServer(t *testing.T) {
	down := httptest.NewServer(Handler(coord{}, auth{errDatabaseDown}, "join"))
	defer down.Close()
	up := httptest.NewServer(Handler(coord{}, auth{}, "join"))
	defer up.Close()
	c := &Client{BaseURL: down.URL + "," + up.URL, Token: "join"}
	c.SetCredential("cred")
	ctx := context.Background()
	for range 2 {
		if _, err := c.Acquire(ctx, NodeStatus{PoolID: "p", NodeID: "n"}); err != nil {
			t.Fatalf("acquire: %v", err)
		}
	}
	c.mu.Lock()
	cur := c.current
	c.mu.Unlock()
	if cur != 1 {
		t.Fatalf("client stays with server %d, want the one that served (1)", cur)
	}
}
