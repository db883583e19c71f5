package nodeproto

import (
	"encoding/json"
	"testing"
)

func TestPoolUserAccounts(t *testing.T) {
	tests := []struct {
		name, raw string
		want      string // JSON of the result
		wantErr   bool
	}{
		{"absent", ``, `null`, false},
		{"null", `null`, `null`, false},
		{"empty", `[]`, `[]`, false},
		{"secrets dropped", `[{"name":"a","password":"Pa55w0rd!","elevationLevel":"admin","linuxUserConfiguration":{"uid":5001,"gid":5002,"sshPrivateKey":"-----BEGIN KEY-----"}}]`,
			`[{"name":"a","elevationLevel":"admin","uid":5001,"gid":5002}]`, false},
		{"no linux configuration", `[{"name":"b","password":"x"}]`, `[{"name":"b"}]`, false},
		{"windows configuration ignored", `[{"name":"c","windowsUserConfiguration":{"loginMode":"batch"}}]`, `[{"name":"c"}]`, false},
		{"not a list", `{"name":"a"}`, ``, true},
		{"negative uid", `[{"name":"a","linuxUserConfiguration":{"uid":-1}}]`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PoolUserAccounts(json.RawMessage(tt.raw))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("= %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want {
				t.Fatalf("= %s, want %s", b, tt.want)
			}
		})
	}
}

// allowed are the only fields a node receives of a pool user account.
var allowed = map[string]bool{"name": true, "elevationLevel": true, "uid": true, "gid": true}

// FuzzPoolUserAccounts: any stored userAccounts value either fails cleanly
// or yields accounts whose JSON carries no password or SSH key.
func FuzzPoolUserAccounts(f *testing.F) {
	f.Add([]byte(`[{"name":"a","password":"p","linuxUserConfiguration":{"uid":1,"gid":2,"sshPrivateKey":"k"}}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := PoolUserAccounts(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back []map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		for _, a := range back {
			for k := range a {
				if !allowed[k] {
					t.Fatalf("field %q kept: %s", k, b)
				}
			}
		}
	})
}
