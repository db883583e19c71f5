// Package client is a Go client of the Batch REST API as openbatch (and
// Azure Batch) serves it, signed with Shared Key. openbatch's CLI and tests
// use it; it works against Azure Batch too.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/sharedkey"
)

// APIVersion is the api-version the client sends.
const APIVersion = "2024-07-01.20.0"

// Client calls one Batch account.
type Client struct {
	Endpoint string
	cred     *sharedkey.Credential
	HTTP     *http.Client
}

// New returns a client for the account at endpoint (e.g.
// http://127.0.0.1:8080) with its base64 key.
func New(endpoint, account, key string) (*Client, error) {
	cred, err := sharedkey.NewCredential(account, key)
	if err != nil {
		return nil, err
	}
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), cred: cred, HTTP: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// Error is a non-2xx answer: the status and the Batch error body.
type Error struct {
	Status int
	Body   api.BatchError
}

func (e *Error) Error() string {
	msg := ""
	if e.Body.Message != nil {
		msg = strings.SplitN(e.Body.Message.Value, "\n", 2)[0]
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Body.Code, msg)
}

// Code returns the Batch error code of err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Body.Code
	}
	return ""
}

// Do sends a signed request. path may carry a query; api-version is added.
// in is JSON-encoded when non-nil; a 2xx JSON body is decoded into out when
// out is non-nil.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	resp, rb, err := c.do(ctx, method, path, in)
	if err != nil {
		return resp, err
	}
	if out != nil && len(rb) > 0 {
		if err := json.Unmarshal(rb, out); err != nil {
			return resp, fmt.Errorf("decode %s %s response: %w", method, path, err)
		}
	}
	return resp, nil
}

// do sends a signed request and returns the response with its whole body;
// a non-2xx answer (other than 304) is an *Error.
func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, []byte, error) {
	return c.doHeader(ctx, method, path, in, nil)
}

// doHeader is do with extra request headers (signed with the request).
func (c *Client) doHeader(ctx context.Context, method, path string, in any, hdr http.Header) (*http.Response, []byte, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.Endpoint + path
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, nil, err
	}
	q := parsed.Query()
	if q.Get("api-version") == "" {
		q.Set("api-version", APIVersion)
		parsed.RawQuery = q.Encode()
	}
	var body io.Reader
	var data []byte
	if in != nil {
		if data, err = json.Marshal(in); err != nil {
			return nil, nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, parsed.String(), body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json; odata=minimalmetadata")
		req.Header.Set("Content-Length", fmt.Sprint(len(data)))
	}
	if err := c.cred.Sign(req); err != nil {
		return nil, nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(rb, &e.Body)
		return resp, rb, e
	}
	return resp, rb, nil
}

type list[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"odata.nextLink"`
}

// ListAll follows odata.nextLink and returns every item.
func ListAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	for path != "" {
		var page list[T]
		if _, err := c.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		path = page.NextLink
	}
	return all, nil
}

// AddPool creates a pool.
func (c *Client) AddPool(ctx context.Context, p *api.Pool) error {
	_, err := c.Do(ctx, http.MethodPost, "/pools", p, nil)
	return err
}

// GetPool reads a pool.
func (c *Client) GetPool(ctx context.Context, id string) (*api.Pool, error) {
	var p api.Pool
	_, err := c.Do(ctx, "GET", "/pools/"+url.PathEscape(id), nil, &p)
	return &p, err
}

// AddJob creates a job.
func (c *Client) AddJob(ctx context.Context, j *api.Job) error {
	_, err := c.Do(ctx, http.MethodPost, "/jobs", j, nil)
	return err
}

// GetJob reads a job.
func (c *Client) GetJob(ctx context.Context, id string) (*api.Job, error) {
	var j api.Job
	_, err := c.Do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id), nil, &j)
	return &j, err
}

// AddTask adds a task to a job.
func (c *Client) AddTask(ctx context.Context, jobID string, t *api.Task) error {
	_, err := c.Do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(jobID)+"/tasks", t, nil)
	return err
}

// AddTasks adds up to 100 tasks in one addtaskcollection call.
func (c *Client) AddTasks(ctx context.Context, jobID string, tasks []*api.Task) (*api.TaskAddCollectionResult, error) {
	var res api.TaskAddCollectionResult
	_, err := c.Do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(jobID)+"/addtaskcollection", map[string]any{"value": tasks}, &res)
	return &res, err
}

// GetTask reads a task.
func (c *Client) GetTask(ctx context.Context, jobID, taskID string) (*api.Task, error) {
	var t api.Task
	_, err := c.Do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/tasks/"+url.PathEscape(taskID), nil, &t)
	return &t, err
}

// ListTasks lists all of a job's tasks (following pages).
func (c *Client) ListTasks(ctx context.Context, jobID, query string) ([]api.Task, error) {
	p := "/jobs/" + url.PathEscape(jobID) + "/tasks"
	if query != "" {
		p += "?" + query
	}
	return ListAll[api.Task](ctx, c, p)
}

// WaitTask polls until a task is completed or ctx ends.
func (c *Client) WaitTask(ctx context.Context, jobID, taskID string) (*api.Task, error) {
	for {
		t, err := c.GetTask(ctx, jobID, taskID)
		if err != nil {
			return nil, err
		}
		if t.State == api.TaskCompleted {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("task %s/%s still %s: %w", jobID, taskID, t.State, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TaskCounts reads a job's task counts.
func (c *Client) TaskCounts(ctx context.Context, jobID string) (*api.TaskCountsResult, error) {
	var r api.TaskCountsResult
	_, err := c.Do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/taskcounts", nil, &r)
	return &r, err
}

// GetTaskFile reads a file of a task (path relative to the task directory).
func (c *Client) GetTaskFile(ctx context.Context, jobID, taskID, path string) ([]byte, error) {
	_, b, err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/tasks/"+url.PathEscape(taskID)+"/files/"+url.PathEscape(path), nil)
	return b, err
}

// GetTaskFileFrom reads a task file from byte offset on (an ocp-range read,
// as Azure serves it). Reading at or past the end returns no bytes and no
// error, so that a caller can follow a growing file.
func (c *Client) GetTaskFileFrom(ctx context.Context, jobID, taskID, path string, offset int64) ([]byte, error) {
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("ocp-range", fmt.Sprintf("bytes=%d-", offset))
	}
	_, b, err := c.doHeader(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/tasks/"+url.PathEscape(taskID)+"/files/"+url.PathEscape(path), nil, hdr)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusRequestedRangeNotSatisfiable {
		return nil, nil
	}
	if err != nil {
		return nil, err // b is the error body, not file content
	}
	return b, nil
}
