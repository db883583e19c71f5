package provider

import (
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, json, err string
	}{
		{"empty", `{}`, ""},
		{"built-in names", `{"pools":[{"poolId":"a*","provider":"static"},{"provider":"local"}]}`, ""},
		{"slurm", `{"pools":[{"vmSize":"standard_hb*","provider":"hpc"}],"providers":{"hpc":{"type":"slurm","slurm":{"partition":"batch","vmSizes":[{"vmSize":"standard_hb*","cpus":8,"memoryMB":4096}]}}}}`, ""},
		{"slurm without settings", `{"providers":{"hpc":{"type":"slurm"}}}`, ""},
		{"unknown field", `{"pool":[]}`, "unknown field"},
		{"undefined provider", `{"pools":[{"poolId":"*","provider":"k8s"}]}`, `provider "k8s" is not defined`},
		{"unknown type", `{"providers":{"x":{"type":"kubernetes"}}}`, `type "kubernetes"`},
		{"slurm settings on local", `{"providers":{"x":{"type":"local","slurm":{}}}}`, "slurm settings on a local provider"},
		{"option injection", `{"providers":{"x":{"type":"slurm","slurm":{"partition":"a --wrap=x"}}}}`, "only letters"},
		{"bad drain grace", `{"providers":{"x":{"type":"slurm","slurm":{"drainGrace":"soon"}}}}`, "drainGrace"},
		{"negative cpus", `{"providers":{"x":{"type":"slurm","slurm":{"vmSizes":[{"vmSize":"*","cpus":-1}]}}}}`, "must not be negative"},
		{"reserved env", `{"providers":{"x":{"type":"slurm","slurm":{"env":{"OPENBATCH_TOKEN":"x"}}}}}`, "OPENBATCH_"},
		{"bad env name", `{"providers":{"x":{"type":"slurm","slurm":{"env":{"A B":"x"}}}}}`, "not a variable name"},
		{"long pattern", `{"pools":[{"poolId":"` + strings.Repeat("a", 300) + `","provider":"static"}]}`, "at most 256 bytes"},
		{"too large", `{"pools":[` + strings.Repeat(`{"provider":"static"},`, 60000) + `{"provider":"static"}]}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			if tc.err == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools":[
		{"poolId":"hpc-*","provider":"hpc"},
		{"vmSize":"standard_nc*","provider":"gpu"},
		{"poolId":"dev?","vmSize":"standard_d2s_v3","provider":"local"}],
	"providers":{"hpc":{"type":"slurm"},"gpu":{"type":"slurm"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, vmSize, want string
	}{
		{"hpc-1", "standard_d2s_v3", "hpc"},
		{"HPC-2", "", "hpc"}, // IDs compare case-insensitively, as in Azure
		{"x", "Standard_NC6", "gpu"},
		{"dev1", "standard_d2s_v3", "local"},
		{"dev1", "standard_d4s_v3", Static},
		{"dev12", "standard_d2s_v3", Static},
		{"other", "standard_d2s_v3", Static},
	} {
		if got := c.Resolve(&api.Pool{ID: tc.id, VMSize: tc.vmSize}, Static); got != tc.want {
			t.Errorf("Resolve(%s, %s) = %s, want %s", tc.id, tc.vmSize, got, tc.want)
		}
	}
	var none *Config
	if got := none.Resolve(&api.Pool{ID: "p"}, Local); got != Local {
		t.Errorf("nil config resolves to %s, want the default", got)
	}
}

func TestSlurmSize(t *testing.T) {
	c := SlurmConfig{Partition: "batch", Account: "proj", TimeLimit: "1:00:00", VMSizes: []SlurmSize{
		{VMSize: "standard_d2*", CPUs: 2, MemoryMB: 8192},
		{VMSize: "standard_nc*", CPUs: 6, GPUs: 1, Partition: "gpu"},
	}}
	for _, tc := range []struct {
		vmSize string
		want   SlurmSize
	}{
		{"Standard_D2s_v3", SlurmSize{VMSize: "standard_d2*", CPUs: 2, MemoryMB: 8192, Partition: "batch", Account: "proj", TimeLimit: "1:00:00"}},
		{"standard_nc6", SlurmSize{VMSize: "standard_nc*", CPUs: 6, GPUs: 1, Partition: "gpu", Account: "proj", TimeLimit: "1:00:00"}},
		{"standard_a1", SlurmSize{CPUs: 1, Partition: "batch", Account: "proj", TimeLimit: "1:00:00"}},
	} {
		if got := c.size(tc.vmSize); got != tc.want {
			t.Errorf("size(%s) = %+v, want %+v", tc.vmSize, got, tc.want)
		}
	}
}

func TestSlurmScriptHoldsNoSecretAndQuotes(t *testing.T) {
	s := &Slurm{Config: SlurmConfig{AgentLaunch: AgentLaunch{Server: "http://10.0.0.1:8080", TokenFile: "/shared/it's/join-token", Agent: "/opt/openbatch"},
		DrainGrace: "1m", AgentArgs: []string{"--listen", "0.0.0.0:7070"}, Env: map[string]string{"HTTPS_PROXY": "http://proxy:3128"}}}
	got := s.script(Spec{PoolID: "p1", NodeID: "tvmps_1_d"}, "/scratch/tvmps_1_d")
	for _, want := range []string{
		`export OPENBATCH_TOKEN_FILE='/shared/it'\''s/join-token'`,
		`export HTTPS_PROXY='http://proxy:3128'`,
		`export PATH=`,
		`exec '/opt/openbatch' 'agent' '--server' 'http://10.0.0.1:8080' '--pool' 'p1' '--node-id' 'tvmps_1_d' '--root' '/scratch/tvmps_1_d' '--drain-grace' '1m' '--listen' '0.0.0.0:7070'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--token ") || strings.Contains(got, "OPENBATCH_TOKEN=") {
		t.Errorf("script passes a token:\n%s", got)
	}
}
