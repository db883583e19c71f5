// Package kubernetes is the kubernetes node provider: each node of a pool
// is a bare pod running `openbatch agent`. It is a package of its own,
// registered with provider.Register from init, so that client-go reaches
// only the binaries that import it (the openbatch command).
//
// Why bare pods and not a StatefulSet: the Manager drains a chosen node
// (leavingpool, honouring nodeDeallocationOption) and then ends exactly
// that node. A StatefulSet scales in by removing its highest ordinals,
// whichever nodes those are, busy or not; a Deployment picks its victims
// itself. With bare pods the Manager is the controller: it creates one pod
// per node and deletes exactly the drained node's pod. restartPolicy
// Always keeps a node's identity across agent crashes: the kubelet
// restarts the container in the same pod, with the same node ID and the
// same root volume.
package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openbatch/openbatch/internal/provider"
)

// Labels and annotations of node pods.
const (
	// LabelPool is the pool, as a label value (see poolLabel).
	LabelPool = "openbatch.io/pool"
	// LabelNode is the node ID (pod names cannot hold its '_').
	LabelNode = "openbatch.io/node"
	// LabelKind is d for a dedicated node, l for a low-priority one.
	LabelKind = "openbatch.io/kind"
	// AnnotationPoolID is the exact pool ID.
	AnnotationPoolID = "openbatch.io/pool-id"
)

// Paths inside node pods.
const (
	rootPath  = "/var/lib/openbatch/node"
	tokenDir  = "/var/run/secrets/openbatch"
	container = "agent"
)

func init() {
	provider.Register(provider.TypeKubernetes, provider.Type{
		Check: func(raw json.RawMessage) error { _, err := parseConfig(raw); return err },
		New: func(raw json.RawMessage, env provider.Env) (provider.Provider, error) {
			c, err := parseConfig(raw)
			if err != nil {
				return nil, err
			}
			cs, err := clientset(c.Kubeconfig)
			if err != nil {
				return nil, err
			}
			return New(*c, cs, env.Server, env.Log), nil
		},
	})
}

// clientset connects with the kubeconfig file, or in-cluster when empty.
// It builds only the core/v1 client, not the whole clientset, whose every
// API group would be linked into the binary for nothing.
func clientset(kubeconfig string) (corev1client.CoreV1Interface, error) {
	var rc *rest.Config
	var err error
	if kubeconfig == "" {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	cs, err := corev1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return cs, nil
}

// Provider makes a pool's nodes as pods in one namespace.
type Provider struct {
	cfg    Config
	client corev1client.CoreV1Interface
	log    *slog.Logger
}

var _ provider.Provider = (*Provider)(nil)

// New returns a provider using client (a fake clientset's CoreV1() in
// tests); server
// is the agents' server URL when c.Server is empty. c must have passed
// parseConfig's checks.
func New(c Config, client corev1client.CoreV1Interface, server string, log *slog.Logger) *Provider {
	if c.Server == "" {
		c.Server = server
	}
	if c.timeout == 0 {
		c.timeout = defaultTimeout
	}
	if c.TokenSecretKey == "" {
		c.TokenSecretKey = "token"
	}
	if log == nil {
		log = slog.Default()
	}
	return &Provider{cfg: c, client: client, log: log}
}

// poolLabel is the label value of poolID: the lower-cased ID (Azure
// compares pool IDs case-insensitively) when it is a valid label value,
// else a hash of it (an ID of 64 characters, or one starting with '_').
// The exact ID is in the AnnotationPoolID annotation.
func poolLabel(poolID string) string {
	l := strings.ToLower(poolID)
	if len(validation.IsValidLabelValue(l)) == 0 {
		return l
	}
	sum := sha256.Sum256([]byte(l))
	return "h-" + hex.EncodeToString(sum[:16])
}

// podName is the pod of nodeID: the node ID with '_' (which pod names
// cannot hold) as '-'. Node IDs are openbatch's tvmps_HEX_d.
func podName(nodeID string) string { return strings.ReplaceAll(strings.ToLower(nodeID), "_", "-") }

// Instances implements provider.Provider: the pods labelled with the
// pool that are not ending. A pod that has failed or succeeded (its agent
// exited for good) or is being deleted is a node that is gone.
func (p *Provider) Instances(ctx context.Context, poolID string) ([]provider.Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	sel := labels.SelectorFromSet(labels.Set{LabelPool: poolLabel(poolID)}).String()
	pods, err := p.client.Pods(p.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: list pods of pool %s: %w", poolID, err)
	}
	var insts []provider.Instance
	for _, pod := range pods.Items {
		if !strings.EqualFold(pod.Annotations[AnnotationPoolID], poolID) || pod.Labels[LabelNode] == "" {
			continue
		}
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		insts = append(insts, provider.Instance{NodeID: pod.Labels[LabelNode], Dedicated: pod.Labels[LabelKind] != "l", Ref: pod.Name})
	}
	return insts, nil
}

// Launch implements provider.Provider: it creates the node's pod. A pod
// that exists already (a Launch retried after a lost answer) is the node.
func (p *Provider) Launch(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	pod, err := p.pod(spec)
	if err != nil {
		return provider.Instance{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	_, err = p.client.Pods(p.cfg.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return provider.Instance{}, fmt.Errorf("kubernetes: create pod %s: %w", pod.Name, err)
	}
	p.log.Info("node pod created", "pool", spec.PoolID, "node", spec.NodeID, "pod", pod.Name, "namespace", p.cfg.Namespace)
	return provider.Instance{NodeID: spec.NodeID, Dedicated: spec.Dedicated, Ref: pod.Name}, nil
}

// Terminate implements provider.Provider: it deletes the node's pod; the
// kubelet sends the agent SIGTERM (it drains) and SIGKILL after the pod's
// grace period. A pod that is gone already is no error.
func (p *Provider) Terminate(ctx context.Context, poolID string, inst provider.Instance) error {
	name := inst.Ref
	if name == "" {
		name = podName(inst.NodeID)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	err := p.client.Pods(p.cfg.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubernetes: delete pod %s: %w", name, err)
	}
	p.log.Info("node pod deleted", "pool", poolID, "node", inst.NodeID, "pod", name)
	return nil
}

// size returns the resources of vmSize's pods.
func (p *Provider) size(vmSize string) Size {
	for _, s := range p.cfg.VMSizes {
		if provider.MatchPattern(s.VMSize, vmSize) {
			return s
		}
	}
	return Size{}
}

// pod is the node's pod spec.
func (p *Provider) pod(spec provider.Spec) (*corev1.Pod, error) {
	c := p.cfg
	if errs := validation.IsValidLabelValue(spec.NodeID); len(errs) > 0 || spec.NodeID == "" {
		return nil, fmt.Errorf("kubernetes: node ID %.64q cannot be a label value", spec.NodeID)
	}
	name := podName(spec.NodeID)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, fmt.Errorf("kubernetes: node ID %.64q cannot name a pod: %s", spec.NodeID, strings.Join(errs, "; "))
	}
	kind := "d"
	selector := maps.Clone(c.NodeSelector)
	tolerations := slices.Clone(c.Tolerations)
	if !spec.Dedicated {
		if c.LowPriority == nil {
			return nil, fmt.Errorf("low-priority nodes need lowPriority in the kubernetes provider's settings: %w", provider.ErrUnsupported)
		}
		kind = "l"
		if selector == nil {
			selector = map[string]string{}
		}
		maps.Copy(selector, c.LowPriority.NodeSelector)
		tolerations = append(tolerations, c.LowPriority.Tolerations...)
	}

	res, err := p.resources(spec.VMSize)
	if err != nil {
		return nil, err
	}
	args := []string{"agent", "--server", c.Server, "--pool", spec.PoolID, "--node-id", spec.NodeID, "--root", rootPath}
	if c.DrainGrace != "" {
		args = append(args, "--drain-grace", c.DrainGrace)
	}
	args = append(args, c.AgentArgs...)
	env := []corev1.EnvVar{{Name: "OPENBATCH_TOKEN_FILE", Value: path.Join(tokenDir, c.TokenSecretKey)}}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: c.Env[k]})
	}

	mode := int32(0o400)
	root := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if c.RootStorageClass != "" {
		size := c.RootSize
		if size == "" {
			size = "10Gi"
		}
		sc := c.RootStorageClass
		root = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &sc,
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			},
		}}}
	}
	lbl := map[string]string{LabelPool: poolLabel(spec.PoolID), LabelNode: spec.NodeID, LabelKind: kind,
		"app.kubernetes.io/name": "openbatch-node", "app.kubernetes.io/managed-by": "openbatch"}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: lbl,
			Annotations: map[string]string{AnnotationPoolID: spec.PoolID}},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyAlways,
			ServiceAccountName: c.ServiceAccount,
			// Nodes need no Kubernetes API access.
			AutomountServiceAccountToken: new(false),
			NodeSelector:                 selector,
			Tolerations:                  tolerations,
			Containers: []corev1.Container{{
				Name:            container,
				Image:           c.Image,
				ImagePullPolicy: corev1.PullPolicy(c.ImagePullPolicy),
				Args:            args,
				Env:             env,
				Resources:       res,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "root", MountPath: rootPath},
					{Name: "join-token", MountPath: tokenDir, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "root", VolumeSource: root},
				{Name: "join-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: c.TokenSecret, DefaultMode: &mode,
					Items: []corev1.KeyToPath{{Key: c.TokenSecretKey, Path: c.TokenSecretKey}},
				}}},
			},
		},
	}, nil
}

// resources are vmSize's requests and limits (equal: the node gets what
// its size says, and no more).
func (p *Provider) resources(vmSize string) (corev1.ResourceRequirements, error) {
	s := p.size(vmSize)
	rl := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: s.CPU, corev1.ResourceMemory: s.Memory} {
		if q == "" {
			continue
		}
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return corev1.ResourceRequirements{}, fmt.Errorf("kubernetes: vmSize %s: %s: %w", vmSize, name, err)
		}
		rl[name] = v
	}
	if s.GPUs > 0 {
		gr := s.GPUResource
		if gr == "" {
			gr = "nvidia.com/gpu"
		}
		rl[corev1.ResourceName(gr)] = *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
	}
	if len(rl) == 0 {
		return corev1.ResourceRequirements{}, nil
	}
	return corev1.ResourceRequirements{Requests: rl, Limits: maps.Clone(rl)}, nil
}
