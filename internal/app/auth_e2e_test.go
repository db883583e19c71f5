package app

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/testenv"
)

// azbatchClient sends requests shaped as the azbatch module
// (api-version 2024-07-01.20.0) does: an azcore pipeline whose bearer
// policy gets tokens for https://batch.core.windows.net//.default, JSON
// bodies with Content-Type "application/json; odata=minimalmetadata",
// Accept application/json and ocp-date in Go's RFC 1123 format.
type azbatchClient struct {
	endpoint string
	pl       runtime.Pipeline
}

func newAzbatchClient(endpoint string, cred azcore.TokenCredential, transport policy.Transporter) *azbatchClient {
	pl := runtime.NewPipeline("azbatch", "v1.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://batch.core.windows.net//.default"}, nil)},
	}, &policy.ClientOptions{Transport: transport})
	return &azbatchClient{endpoint: endpoint, pl: pl}
}

func (c *azbatchClient) do(ctx context.Context, method, path string, body, out any, want ...int) error {
	req, err := runtime.NewRequest(ctx, method, c.endpoint+path+"?api-version=2024-07-01.20.0")
	if err != nil {
		return err
	}
	req.Raw().Header["Accept"] = []string{"application/json"}
	req.Raw().Header["ocp-date"] = []string{time.Now().UTC().Format(time.RFC1123)}
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return err
		}
		req.Raw().Header["Content-Type"] = []string{"application/json; odata=minimalmetadata"}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return err
	}
	if !runtime.HasStatusCode(resp, want...) {
		return runtime.NewResponseError(resp)
	}
	if out != nil {
		return runtime.UnmarshalAsJSON(resp, out)
	}
	return nil
}

// TestAzcoreBearerEndToEnd is the acceptance test: a program using
// only azcore and azidentity gets a token from `openbatch dev`'s issuer over
// TLS, creates a pool, a job and a task with outputFiles, and the outputs
// land in Azurite.
func TestAzcoreBearerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs a task and uploads to Azurite")
	}
	az := testenv.SharedAzurite(t)
	container := az.NewContainer(t)
	sas := az.ContainerSAS(t, container, "w", time.Now().Add(time.Hour))
	srv, hc := startBearerTLS(t)
	ctx := ctxT(t, 90*time.Second)

	cred, err := azidentity.NewClientSecretCredential(devissuer.TenantID, devissuer.ClientID, devissuer.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.Issuer.AuthorityHost()}, Transport: hc},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		t.Fatal(err)
	}
	c := newAzbatchClient(srv.Endpoint, cred, hc)

	steps := []struct {
		what, method, path string
		body               any
		status             int
	}{
		{"add pool", "POST", "/pools", map[string]any{"id": "azpool", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
			"virtualMachineConfiguration": map[string]any{"imageReference": map[string]any{"publisher": "canonical", "offer": "ubuntu", "sku": "22_04-lts"},
				"nodeAgentSKUId": "batch.node.ubuntu 22.04"}}, http.StatusCreated},
		{"add job", "POST", "/jobs", map[string]any{"id": "azjob", "poolInfo": map[string]any{"poolId": "azpool"}}, http.StatusCreated},
		{"add task", "POST", "/jobs/azjob/tasks", map[string]any{"id": "aztask",
			"commandLine": `/bin/sh -c 'echo from-azcore > output.txt; echo done'`,
			"outputFiles": []any{
				map[string]any{"filePattern": "../std*.txt", "destination": map[string]any{"container": map[string]any{"containerUrl": sas, "path": "aztask"}},
					"uploadOptions": map[string]any{"uploadCondition": "taskcompletion"}},
				map[string]any{"filePattern": "output.txt", "destination": map[string]any{"container": map[string]any{"containerUrl": sas, "path": "aztask/output.txt"}},
					"uploadOptions": map[string]any{"uploadCondition": "tasksuccess"}},
			}}, http.StatusCreated},
	}
	for _, s := range steps {
		if err := c.do(ctx, s.method, s.path, s.body, nil, s.status); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
	}
	var task api.Task
	for {
		if err := c.do(ctx, "GET", "/jobs/azjob/tasks/aztask", nil, &task, http.StatusOK); err != nil {
			t.Fatalf("get task: %v", err)
		}
		if task.State == api.TaskCompleted {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task did not complete; last state %s", task.State)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ei := task.ExecutionInfo; ei == nil || ei.Result != api.ResultSuccess {
		b, _ := json.Marshal(task.ExecutionInfo)
		t.Fatalf("task did not succeed: %s", b)
	}
	blobs := az.Blobs(t, container)
	want := []string{"aztask/output.txt", "aztask/stderr.txt", "aztask/stdout.txt"}
	if strings.Join(blobs, ",") != strings.Join(want, ",") {
		t.Fatalf("blobs = %v, want %v", blobs, want)
	}
	for _, b := range want {
		data, props := az.Download(t, container, b)
		if sum := md5.Sum(data); string(props.ContentMD5) != string(sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", b, props.ContentMD5, sum)
		}
	}
	if data, _ := az.Download(t, container, "aztask/output.txt"); string(data) != "from-azcore\n" {
		t.Errorf("output.txt = %q", data)
	}

	// The same pipeline without a trusted issuer's token is challenged.
	bad := newAzbatchClient(srv.Endpoint, staticToken("not-a-token"), hc)
	err = bad.do(ctx, "GET", "/pools", nil, nil, http.StatusOK)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || re.ErrorCode != api.CodeAuthenticationFailed {
		t.Fatalf("bad token: err = %v, want 401 AuthenticationFailed", err)
	}
}

type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
