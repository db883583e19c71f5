package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/openbatch/openbatch/internal/provider"
)

const secretToken = "s3cr3t-join-token"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig is a full configuration, parsed as the server parses it.
func testConfig(t *testing.T, extra string) Config {
	t.Helper()
	raw := `{"namespace":"batch","image":"ghcr.io/openbatch/openbatch:1","tokenSecret":"openbatch-join",
		"server":"http://openbatch.batch.svc:8080","serviceAccount":"openbatch-node",
		"nodeSelector":{"pool":"batch"},"tolerations":[{"key":"batch","operator":"Exists","effect":"NoSchedule"}],
		"lowPriority":{"nodeSelector":{"spot":"true"},"tolerations":[{"key":"spot","operator":"Exists"}]},
		"vmSizes":[{"vmSize":"standard_d2*","cpu":"2","memory":"8Gi"},{"vmSize":"standard_nc*","cpu":"6","memory":"56Gi","gpus":1}]` + extra + `}`
	c, err := parseConfig(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return *c
}

func newTest(t *testing.T, c Config, objs ...runtime.Object) (*Provider, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return New(c, cs.CoreV1(), "http://unused", quiet), cs
}

func TestLaunchCreatesPod(t *testing.T) {
	for _, tc := range []struct {
		name      string
		extra     string
		spec      provider.Spec
		res       map[corev1.ResourceName]string
		selector  map[string]string
		tolerates []string
		kind      string
		ephemeral bool
	}{
		{name: "dedicated d2", spec: provider.Spec{PoolID: "Render", NodeID: "tvmps_0a1b_d", VMSize: "STANDARD_D2S_V3", Dedicated: true},
			res: map[corev1.ResourceName]string{"cpu": "2", "memory": "8Gi"}, selector: map[string]string{"pool": "batch"}, tolerates: []string{"batch"}, kind: "d"},
		{name: "low-priority gpu", spec: provider.Spec{PoolID: "gpu", NodeID: "tvmps_ff00_d", VMSize: "standard_nc6"},
			res:      map[corev1.ResourceName]string{"cpu": "6", "memory": "56Gi", "nvidia.com/gpu": "1"},
			selector: map[string]string{"pool": "batch", "spot": "true"}, tolerates: []string{"batch", "spot"}, kind: "l"},
		{name: "unmapped size, pvc root", extra: `,"rootStorageClass":"fast-ssd","rootSize":"50Gi"`,
			spec: provider.Spec{PoolID: "p", NodeID: "tvmps_01_d", VMSize: "other", Dedicated: true},
			res:  map[corev1.ResourceName]string{}, selector: map[string]string{"pool": "batch"}, tolerates: []string{"batch"}, kind: "d", ephemeral: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cs := newTest(t, testConfig(t, tc.extra))
			inst, err := p.Launch(context.Background(), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			wantName := strings.ReplaceAll(tc.spec.NodeID, "_", "-")
			if inst.NodeID != tc.spec.NodeID || inst.Ref != wantName || inst.Dedicated != tc.spec.Dedicated {
				t.Fatalf("instance %+v", inst)
			}
			acts := cs.Actions()
			if len(acts) != 1 || acts[0].GetVerb() != "create" || acts[0].GetNamespace() != "batch" {
				t.Fatalf("actions %v", acts)
			}
			pod := acts[0].(k8stesting.CreateAction).GetObject().(*corev1.Pod)
			if pod.Name != wantName {
				t.Errorf("pod name %s, want %s", pod.Name, wantName)
			}
			if pod.Labels[LabelPool] != strings.ToLower(tc.spec.PoolID) || pod.Labels[LabelNode] != tc.spec.NodeID || pod.Labels[LabelKind] != tc.kind ||
				pod.Annotations[AnnotationPoolID] != tc.spec.PoolID {
				t.Errorf("labels %v annotations %v", pod.Labels, pod.Annotations)
			}
			s := pod.Spec
			if s.RestartPolicy != corev1.RestartPolicyAlways || s.ServiceAccountName != "openbatch-node" ||
				s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
				t.Errorf("restartPolicy %s serviceAccount %s automount %v", s.RestartPolicy, s.ServiceAccountName, s.AutomountServiceAccountToken)
			}
			if len(s.NodeSelector) != len(tc.selector) {
				t.Errorf("nodeSelector %v, want %v", s.NodeSelector, tc.selector)
			}
			for k, v := range tc.selector {
				if s.NodeSelector[k] != v {
					t.Errorf("nodeSelector %v, want %v", s.NodeSelector, tc.selector)
				}
			}
			var tol []string
			for _, x := range s.Tolerations {
				tol = append(tol, x.Key)
			}
			if !slices.Equal(tol, tc.tolerates) {
				t.Errorf("tolerations %v, want %v", tol, tc.tolerates)
			}
			if len(s.Containers) != 1 {
				t.Fatalf("%d containers", len(s.Containers))
			}
			ctr := s.Containers[0]
			wantArgs := []string{"agent", "--server", "http://openbatch.batch.svc:8080", "--pool", tc.spec.PoolID, "--node-id", tc.spec.NodeID, "--root", rootPath}
			if !slices.Equal(ctr.Args, wantArgs) || ctr.Image != "ghcr.io/openbatch/openbatch:1" {
				t.Errorf("image %s args %q", ctr.Image, ctr.Args)
			}
			// Resources: requests = limits = the vmSize's.
			if len(ctr.Resources.Requests) != len(tc.res) || len(ctr.Resources.Limits) != len(tc.res) {
				t.Errorf("resources %v", ctr.Resources)
			}
			for n, q := range tc.res {
				want := resource.MustParse(q)
				if got := ctr.Resources.Requests[n]; got.Cmp(want) != 0 {
					t.Errorf("request %s = %s, want %s", n, got.String(), q)
				}
				if got := ctr.Resources.Limits[n]; got.Cmp(want) != 0 {
					t.Errorf("limit %s = %s, want %s", n, got.String(), q)
				}
			}
			// The token: a secret volume, its path in OPENBATCH_TOKEN_FILE,
			// never a value in args or env.
			var tokenVol, rootVol *corev1.Volume
			for i, v := range s.Volumes {
				switch v.Name {
				case "join-token":
					tokenVol = &s.Volumes[i]
				case "root":
					rootVol = &s.Volumes[i]
				}
			}
			if tokenVol == nil || tokenVol.Secret == nil || tokenVol.Secret.SecretName != "openbatch-join" || *tokenVol.Secret.DefaultMode != 0o400 {
				t.Fatalf("token volume %+v", tokenVol)
			}
			if rootVol == nil || (rootVol.EmptyDir != nil) == tc.ephemeral || (rootVol.Ephemeral != nil) != tc.ephemeral {
				t.Fatalf("root volume %+v", rootVol)
			}
			if tc.ephemeral {
				pvc := rootVol.Ephemeral.VolumeClaimTemplate.Spec
				if *pvc.StorageClassName != "fast-ssd" || pvc.Resources.Requests.Storage().String() != "50Gi" {
					t.Errorf("claim template %+v", pvc)
				}
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range ctr.VolumeMounts {
				mounts[m.Name] = m
			}
			if mounts["root"].MountPath != rootPath || mounts["join-token"].MountPath != tokenDir || !mounts["join-token"].ReadOnly {
				t.Errorf("mounts %+v", ctr.VolumeMounts)
			}
			var tokenFile string
			for _, e := range ctr.Env {
				if e.ValueFrom != nil {
					t.Errorf("env %s from %+v: the token must come from the mounted file only", e.Name, e.ValueFrom)
				}
				if e.Name == "OPENBATCH_TOKEN_FILE" {
					tokenFile = e.Value
				}
				if e.Name == "OPENBATCH_TOKEN" {
					t.Errorf("OPENBATCH_TOKEN is set")
				}
			}
			if tokenFile != tokenDir+"/token" {
				t.Errorf("OPENBATCH_TOKEN_FILE %q", tokenFile)
			}
			b, _ := json.Marshal(pod)
			if strings.Contains(string(b), secretToken) {
				t.Errorf("pod holds the join token: %s", b)
			}
		})
	}
}

func TestLaunchRefuses(t *testing.T) {
	c := testConfig(t, "")
	c.LowPriority = nil
	p, cs := newTest(t, c)
	for _, tc := range []struct {
		name string
		spec provider.Spec
		is   error
	}{
		{"low-priority without placement", provider.Spec{PoolID: "p", NodeID: "tvmps_1_d"}, provider.ErrUnsupported},
		{"node ID not a pod name", provider.Spec{PoolID: "p", NodeID: "bad/id", Dedicated: true}, nil},
		{"empty node ID", provider.Spec{PoolID: "p", Dedicated: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Launch(context.Background(), tc.spec)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
		})
	}
	if n := len(cs.Actions()); n != 0 {
		t.Fatalf("%d API calls for refused launches", n)
	}
}

func TestLaunchIsIdempotent(t *testing.T) {
	p, cs := newTest(t, testConfig(t, ""))
	spec := provider.Spec{PoolID: "p", NodeID: "tvmps_aa_d", VMSize: "x", Dedicated: true}
	for i := range 2 {
		if _, err := p.Launch(context.Background(), spec); err != nil {
			t.Fatalf("launch %d: %v", i, err)
		}
	}
	pods, _ := cs.CoreV1().Pods("batch").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods", len(pods.Items))
	}
	// Another API error is reported.
	cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("rbac"))
	})
	if _, err := p.Launch(context.Background(), provider.Spec{PoolID: "p", NodeID: "tvmps_bb_d", Dedicated: true}); !apierrors.IsForbidden(err) {
		t.Fatalf("err %v, want Forbidden", err)
	}
}

// pod is a node pod as Launch makes it, in phase, for List tests.
func pod(t *testing.T, p *Provider, poolID, nodeID string, dedicated bool, phase corev1.PodPhase, deleting bool) *corev1.Pod {
	t.Helper()
	po, err := p.pod(provider.Spec{PoolID: poolID, NodeID: nodeID, Dedicated: dedicated})
	if err != nil {
		t.Fatal(err)
	}
	po.Status.Phase = phase
	if deleting {
		now := metav1.Now()
		po.DeletionTimestamp = &now
		po.Finalizers = []string{"x"} // the fake refuses a deletion timestamp without one
	}
	return po
}

func TestInstancesMapsPhases(t *testing.T) {
	c := testConfig(t, "")
	p0, _ := newTest(t, c)
	long := strings.Repeat("a", 64) // a valid pool ID, too long for a label value
	objs := []runtime.Object{
		pod(t, p0, "Pool", "tvmps_01_d", true, corev1.PodPending, false),
		pod(t, p0, "pool", "tvmps_02_d", false, corev1.PodRunning, false),
		pod(t, p0, "pool", "tvmps_03_d", true, corev1.PodFailed, false),
		pod(t, p0, "pool", "tvmps_04_d", true, corev1.PodSucceeded, false),
		pod(t, p0, "pool", "tvmps_05_d", true, corev1.PodRunning, true),
		pod(t, p0, "pool", "tvmps_06_d", true, corev1.PodUnknown, false),
		pod(t, p0, "other", "tvmps_07_d", true, corev1.PodRunning, false),
		pod(t, p0, long, "tvmps_08_d", true, corev1.PodRunning, false),
	}
	// A pod of another namespace is not ours.
	foreign := pod(t, p0, "pool", "tvmps_09_d", true, corev1.PodRunning, false)
	foreign.Namespace = "elsewhere"
	p, _ := newTest(t, c, append(objs, foreign)...)
	for _, tc := range []struct {
		pool string
		want []string
	}{
		{"POOL", []string{"tvmps_01_d:d", "tvmps_02_d:l", "tvmps_06_d:d"}},
		{"other", []string{"tvmps_07_d:d"}},
		{long, []string{"tvmps_08_d:d"}},
		{"none", nil},
	} {
		insts, err := p.Instances(context.Background(), tc.pool)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range insts {
			k := "d"
			if !in.Dedicated {
				k = "l"
			}
			if in.Ref != podName(in.NodeID) {
				t.Errorf("ref %s of %s", in.Ref, in.NodeID)
			}
			got = append(got, in.NodeID+":"+k)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("pool %.10s: instances %v, want %v", tc.pool, got, tc.want)
		}
	}
}

func TestTerminateDeletesOnlyThatPod(t *testing.T) {
	c := testConfig(t, "")
	p0, _ := newTest(t, c)
	p, cs := newTest(t, c, pod(t, p0, "pool", "tvmps_01_d", true, corev1.PodRunning, false),
		pod(t, p0, "pool", "tvmps_02_d", true, corev1.PodRunning, false))
	ctx := context.Background()
	for _, in := range []provider.Instance{
		{NodeID: "tvmps_01_d", Ref: "tvmps-01-d"},
		{NodeID: "tvmps_01_d"}, // gone already: no error; no Ref: the name is derived
	} {
		if err := p.Terminate(ctx, "pool", in); err != nil {
			t.Fatal(err)
		}
	}
	var deleted []string
	for _, a := range cs.Actions() {
		if a.GetVerb() != "delete" {
			t.Errorf("unexpected %s", a.GetVerb())
			continue
		}
		deleted = append(deleted, a.GetNamespace()+"/"+a.(k8stesting.DeleteAction).GetName())
	}
	if !slices.Equal(deleted, []string{"batch/tvmps-01-d", "batch/tvmps-01-d"}) {
		t.Fatalf("deleted %v", deleted)
	}
	pods, _ := cs.CoreV1().Pods("batch").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 1 || pods.Items[0].Name != "tvmps-02-d" {
		t.Fatalf("pods left %v", pods.Items)
	}
	cs.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if err := p.Terminate(ctx, "pool", provider.Instance{NodeID: "tvmps_02_d"}); err == nil {
		t.Fatal("a failed delete was not reported")
	}
}

func TestParseConfig(t *testing.T) {
	base := `"namespace":"batch","image":"img","tokenSecret":"tok"`
	for _, tc := range []struct {
		name, json, err string
	}{
		{"minimal", `{` + base + `}`, ""},
		{"full", `{` + base + `,"kubeconfig":"/k","imagePullPolicy":"Always","tokenSecretKey":"join-token","timeout":"1m","drainGrace":"5m",
			"rootStorageClass":"ssd","rootSize":"1Ti","env":{"HTTP_PROXY":"x"},"agentArgs":["--listen","0.0.0.0:7070"],
			"vmSizes":[{"vmSize":"*","cpu":"500m","memory":"1Gi","gpus":2,"gpuResource":"amd.com/gpu"}]}`, ""},
		{"missing settings", ``, "required"},
		{"missing image", `{"namespace":"batch","tokenSecret":"tok"}`, "required"},
		{"unknown field", `{` + base + `,"imagePullSecret":"x"}`, "unknown field"},
		{"unknown nested field", `{` + base + `,"vmSizes":[{"vmSize":"*","cpus":2}]}`, "unknown field"},
		{"bad namespace", `{"namespace":"Batch_NS","image":"i","tokenSecret":"tok"}`, "namespace"},
		{"bad pull policy", `{` + base + `,"imagePullPolicy":"Sometimes"}`, "imagePullPolicy"},
		{"bad quantity", `{` + base + `,"vmSizes":[{"vmSize":"*","cpu":"two"}]}`, "cpu"},
		{"zero memory", `{` + base + `,"vmSizes":[{"vmSize":"*","memory":"0"}]}`, "above 0"},
		{"negative gpus", `{` + base + `,"vmSizes":[{"vmSize":"*","gpus":-1}]}`, "gpus"},
		{"bad gpu resource", `{` + base + `,"vmSizes":[{"vmSize":"*","gpus":1,"gpuResource":"a b"}]}`, "gpuResource"},
		{"long pattern", `{` + base + `,"vmSizes":[{"vmSize":"` + strings.Repeat("x", 300) + `"}]}`, "pattern"},
		{"timeout too long", `{` + base + `,"timeout":"1h"}`, "timeout"},
		{"timeout zero", `{` + base + `,"timeout":"0s"}`, "timeout"},
		{"rootSize without class", `{` + base + `,"rootSize":"1Gi"}`, "rootStorageClass"},
		{"OPENBATCH env", `{` + base + `,"env":{"OPENBATCH_TOKEN":"x"}}`, "env"},
		{"too many args", `{` + base + `,"agentArgs":[` + strings.Repeat(`"x",`, 100) + `"x"]}`, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(json.RawMessage(tc.json))
			if tc.err == "" && err != nil {
				t.Fatal(err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err %v, want one with %q", err, tc.err)
			}
		})
	}
}

// TestProvidersFile parses a whole node providers file: the registered
// type's settings are checked by provider.ParseConfig.
func TestProvidersFile(t *testing.T) {
	for _, tc := range []struct {
		name, json, err string
	}{
		{"ok", `{"pools":[{"poolId":"k8s-*","provider":"k"}],"providers":{"k":{"type":"kubernetes","kubernetes":{"namespace":"b","image":"i","tokenSecret":"t"}}}}`, ""},
		{"bad settings", `{"providers":{"k":{"type":"kubernetes","kubernetes":{"namespace":"b","image":"i","tokenSecret":"t","replicas":3}}}}`, "unknown field"},
		{"no settings", `{"providers":{"k":{"type":"kubernetes"}}}`, "required"},
		{"slurm settings", `{"providers":{"k":{"type":"kubernetes","slurm":{},"kubernetes":{"namespace":"b","image":"i","tokenSecret":"t"}}}}`, "slurm settings"},
		{"kubernetes settings on slurm", `{"providers":{"k":{"type":"slurm","kubernetes":{}}}}`, "kubernetes settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := provider.ParseConfig([]byte(tc.json))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Providers["k"].Type != provider.TypeKubernetes {
					t.Fatalf("providers %+v", c.Providers)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want one with %q", err, tc.err)
			}
		})
	}
}

// TestDeployExample parses the example node providers file shipped in
// deploy/kubernetes, as the server would, so the manifest stays valid.
func TestDeployExample(t *testing.T) {
	b, err := os.ReadFile("../../../deploy/kubernetes/node-providers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatal(err)
	}
	c, err := provider.ParseConfig([]byte(cm.Data["node-providers.json"]))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Providers["cluster"]; s.Type != provider.TypeKubernetes {
		t.Fatalf("providers %+v", c.Providers)
	}
}
