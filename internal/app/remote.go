package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/service"
)

// remoteHTTP is the client the server reaches agents' file servers with.
// There is no overall timeout (a download may be large); connecting and
// waiting for the answer's headers are bounded, and the request's context
// ends the rest.
var remoteHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 nil, // agents are reached directly
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ResponseHeaderTimeout: 30 * time.Second,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
}}

// remoteDir is a directory on a remote agent (`openbatch agent`), reached
// through the agent's file server (agent.FileHandler) at base with the
// node join token. rel is the directory relative to the node root that the
// agent confines every request to: a task directory, or "" for the node.
type remoteDir struct {
	base, rel, token string
	hc               *http.Client
}

// errNodeUnreachable is the answer when the agent's file server cannot be
// reached (the node is down or its address is wrong).
func errNodeUnreachable(err error) error {
	return &service.Error{Code: api.CodeOperationInvalidForCurrentState,
		Message: "The compute node that holds the files cannot be reached: " + err.Error()}
}

// do sends one request to the agent. On success the caller owns the
// response body; a failure is mapped back to the nodefiles error the agent
// reported.
func (d *remoteDir) do(ctx context.Context, method, op string, q url.Values) (*http.Response, error) {
	q.Set(agent.FileParamDir, d.rel)
	u := strings.TrimRight(d.base, "/") + agent.FilePathPrefix + op + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("node file %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	hc := d.hc
	if hc == nil {
		hc = remoteHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errNodeUnreachable(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if sentinel := agent.FileErrorOf(resp.Header.Get(agent.FileErrorHeader)); sentinel != nil {
		return nil, fmt.Errorf("%w: %s", sentinel, strings.TrimSpace(string(msg)))
	}
	return nil, fmt.Errorf("node file %s at %s: agent answered %s: %s", op, d.base, resp.Status, strings.TrimSpace(string(msg)))
}

// getJSON performs a GET and decodes its JSON answer into out.
func (d *remoteDir) getJSON(ctx context.Context, op string, q url.Values, out any) error {
	resp, err := d.do(ctx, http.MethodGet, op, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("node file %s at %s: decode answer: %w", op, d.base, err)
	}
	return nil
}

// List implements httpapi.Dir.
func (d *remoteDir) List(ctx context.Context, rel string, recursive bool, prefix string) ([]api.NodeFile, error) {
	var out []api.NodeFile
	q := url.Values{agent.FileParamPath: {rel}, agent.FileParamRecursive: {strconv.FormatBool(recursive)}, agent.FileParamPrefix: {prefix}}
	if err := d.getJSON(ctx, agent.FileOpList, q, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Stat implements httpapi.Dir.
func (d *remoteDir) Stat(ctx context.Context, rel string) (api.NodeFile, error) {
	var out api.NodeFile
	if err := d.getJSON(ctx, agent.FileOpStat, url.Values{agent.FileParamPath: {rel}}, &out); err != nil {
		return api.NodeFile{}, err
	}
	return out, nil
}

// Open implements httpapi.Dir: the agent streams the range.
func (d *remoteDir) Open(ctx context.Context, rel string, start, length int64) (io.ReadCloser, error) {
	q := url.Values{agent.FileParamPath: {rel}, agent.FileParamStart: {strconv.FormatInt(start, 10)},
		agent.FileParamLength: {strconv.FormatInt(length, 10)}}
	resp, err := d.do(ctx, http.MethodGet, agent.FileOpRead, q)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Delete implements httpapi.Dir.
func (d *remoteDir) Delete(ctx context.Context, rel string, recursive bool) error {
	resp, err := d.do(ctx, http.MethodPost, agent.FileOpDelete,
		url.Values{agent.FileParamPath: {rel}, agent.FileParamRecursive: {strconv.FormatBool(recursive)}})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
