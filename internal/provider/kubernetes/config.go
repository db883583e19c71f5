package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits of the settings, checked before they are used.
const (
	maxVMSizes     = 1000
	maxPatternLen  = 256
	maxListEntries = 100
	maxTimeout     = 10 * time.Minute
	// defaultTimeout bounds each call to the Kubernetes API.
	defaultTimeout = 30 * time.Second
)

// Config configures a kubernetes provider: the `kubernetes` object of a
// providers entry of type kubernetes in the node providers file.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty means the in-cluster
	// configuration (the server runs in a pod with a service account).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Namespace the node pods are made in (required).
	Namespace string `json:"namespace"`
	// Image is the openbatch image the node pods run (required).
	Image string `json:"image"`
	// ImagePullPolicy is Always, IfNotPresent or Never (default: the
	// cluster's).
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// Server is the URL the agents reach the server at, e.g. the
	// server Service's http://openbatch.openbatch.svc:8080 (default: the
	// server's own endpoint).
	Server string `json:"server,omitempty"`
	// TokenSecret names the Secret holding the node join token (required);
	// TokenSecretKey is its key (default "token"). The Secret is mounted
	// as a file and the agent is given its path (OPENBATCH_TOKEN_FILE):
	// the token is never in the pod's arguments or environment values.
	TokenSecret    string `json:"tokenSecret"`
	TokenSecretKey string `json:"tokenSecretKey,omitempty"`
	// ServiceAccount the node pods run as (default: the namespace's
	// default). Nodes need no API access; pick an account without any.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// NodeSelector and Tolerations place every node pod.
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	// LowPriority, when set, lets pools have low-priority nodes: their
	// pods get these node selector entries and tolerations besides the
	// above (typically a spot node pool's). Without it a low-priority
	// target is refused with a resize error.
	LowPriority *Placement `json:"lowPriority,omitempty"`
	// RootStorageClass, when set, puts each node's root on a generic
	// ephemeral volume: a PersistentVolumeClaim of RootSize (default
	// 10Gi) in this storage class, made from the pod's claim template and
	// deleted with the pod. Default: an emptyDir volume.
	RootStorageClass string `json:"rootStorageClass,omitempty"`
	RootSize         string `json:"rootSize,omitempty"`
	// DrainGrace is the agent's --drain-grace (Go duration).
	DrainGrace string `json:"drainGrace,omitempty"`
	// AgentArgs are extra `openbatch agent` flags (e.g. --listen).
	AgentArgs []string `json:"agentArgs,omitempty"`
	// Env is the agent's environment besides OPENBATCH_*. Put no secret
	// here: it is readable by anyone who can read the pod.
	Env map[string]string `json:"env,omitempty"`
	// VMSizes size the pods by the pool's vmSize: the first entry whose
	// pattern matches wins; a pool no entry matches gets no requests.
	VMSizes []Size `json:"vmSizes,omitempty"`
	// Timeout bounds each call to the Kubernetes API (Go duration,
	// default 30s, at most 10m).
	Timeout string `json:"timeout,omitempty"`

	timeout time.Duration
}

// Placement is where low-priority node pods go.
type Placement struct {
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
}

// Size is the resources of pods whose pool's vmSize matches VMSize: CPU
// and Memory are Kubernetes quantities ("2", "500m", "8Gi"), set as both
// request and limit, so a node gets what its vmSize says (Guaranteed QoS
// when both are set). GPUs, when not zero, is the limit of GPUResource
// (default nvidia.com/gpu).
type Size struct {
	VMSize      string `json:"vmSize"`
	CPU         string `json:"cpu,omitempty"`
	Memory      string `json:"memory,omitempty"`
	GPUs        int    `json:"gpus,omitempty"`
	GPUResource string `json:"gpuResource,omitempty"`
}

// envName is a variable name the pod may set.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseConfig decodes and checks settings; unknown fields are refused.
func parseConfig(raw json.RawMessage) (*Config, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("kubernetes settings are required (namespace, image, tokenSecret)")
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return &c, nil
}

func (c *Config) check() error {
	if c.Namespace == "" || c.Image == "" || c.TokenSecret == "" {
		return errors.New("namespace, image and tokenSecret are required")
	}
	if c.TokenSecretKey == "" {
		c.TokenSecretKey = "token"
	}
	names := map[string]string{"namespace": c.Namespace, "tokenSecret": c.TokenSecret}
	if c.ServiceAccount != "" {
		names["serviceAccount"] = c.ServiceAccount
	}
	if c.RootStorageClass != "" {
		names["rootStorageClass"] = c.RootStorageClass
	}
	for k, v := range names {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return fmt.Errorf("%s %.64q: %s", k, v, strings.Join(errs, "; "))
		}
	}
	if errs := validation.IsConfigMapKey(c.TokenSecretKey); len(errs) > 0 {
		return fmt.Errorf("tokenSecretKey %.64q: %s", c.TokenSecretKey, strings.Join(errs, "; "))
	}
	switch corev1.PullPolicy(c.ImagePullPolicy) {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("imagePullPolicy %.32q: want Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	if c.RootSize != "" {
		if c.RootStorageClass == "" {
			return errors.New("rootSize needs rootStorageClass")
		}
		if _, err := resource.ParseQuantity(c.RootSize); err != nil {
			return fmt.Errorf("rootSize: %w", err)
		}
	}
	if c.DrainGrace != "" {
		if _, err := time.ParseDuration(c.DrainGrace); err != nil {
			return fmt.Errorf("drainGrace: %w", err)
		}
	}
	c.timeout = defaultTimeout
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 || d > maxTimeout {
			return fmt.Errorf("timeout %.32q: want a Go duration above 0 and at most %s", c.Timeout, maxTimeout)
		}
		c.timeout = d
	}
	if len(c.AgentArgs) > maxListEntries || len(c.Env) > maxListEntries || len(c.Tolerations) > maxListEntries || len(c.NodeSelector) > maxListEntries {
		return fmt.Errorf("agentArgs, env, tolerations and nodeSelector have at most %d entries each", maxListEntries)
	}
	if p := c.LowPriority; p != nil && (len(p.Tolerations) > maxListEntries || len(p.NodeSelector) > maxListEntries) {
		return fmt.Errorf("lowPriority: tolerations and nodeSelector have at most %d entries each", maxListEntries)
	}
	for k := range c.Env {
		if !envName.MatchString(k) || strings.HasPrefix(k, "OPENBATCH_") {
			return fmt.Errorf("env: %q is not a variable name openbatch passes (OPENBATCH_* are set by the provider)", k)
		}
	}
	if len(c.VMSizes) > maxVMSizes {
		return fmt.Errorf("%d vmSizes; at most %d are allowed", len(c.VMSizes), maxVMSizes)
	}
	for i, s := range c.VMSizes {
		if len(s.VMSize) > maxPatternLen {
			return fmt.Errorf("vmSizes[%d]: pattern longer than %d bytes", i, maxPatternLen)
		}
		for k, q := range map[string]string{"cpu": s.CPU, "memory": s.Memory} {
			if q == "" {
				continue
			}
			v, err := resource.ParseQuantity(q)
			if err != nil {
				return fmt.Errorf("vmSizes[%d].%s: %w", i, k, err)
			}
			if v.Sign() <= 0 {
				return fmt.Errorf("vmSizes[%d].%s: must be above 0", i, k)
			}
		}
		if s.GPUs < 0 || s.GPUs > 1024 {
			return fmt.Errorf("vmSizes[%d].gpus: want 0 to 1024", i)
		}
		if s.GPUResource != "" {
			if errs := validation.IsQualifiedName(s.GPUResource); len(errs) > 0 {
				return fmt.Errorf("vmSizes[%d].gpuResource %.64q: %s", i, s.GPUResource, strings.Join(errs, "; "))
			}
		}
	}
	return nil
}
