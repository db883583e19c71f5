package conventions

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The vectors of ContainerNameUtilsTests.cs in the .NET library.
func TestContainerNameReproducesDotNetVectors(t *testing.T) {
	tests := []struct{ jobID, want string }{
		{"job-15", "job-job-15"},
		{"MyTerrificJob", "job-myterrificjob"},
		{"J", "job-j"},
		{"j", "job-j"},
		{"my_job-bob", "job-my-job-bob-e04620bc2add214df74e158ba60d24273a0e0927"},
		{"-my_job-sam--", "job-my-job-sam-47f54d840815af2592a12213db05f8a8277a098d"},
		{"my-_EVEN_MORE_-terrific-job", "job-my-even-more-te-68b05a7d8aa6aa65b9a6892c667a6c406a16ad65"},
		{"---", "job-job-58b63e273b964039d6ef432a415df3f177c818e5"},
		{"-_-", "job-job-6fe16b401f95cfcf3aba78023b0a14ef782813e1"},
		{"-", "job-job-3bc15c8aae3e4124dd409035f32ea2fd6835efc9"},
		{"_", "job-job-53a0acfad59379b3e050338bf9f23cfc172ee787"},
		{"myverylongjobnameallinonewordreallystartingtogetreallysillynow", "job-myverylongjobna-a8700e4947d0c8c621e53b24246aa0349d830e41"},
	}
	for _, tt := range tests {
		if got := ContainerName(tt.jobID); got != tt.want {
			t.Errorf("ContainerName(%q) = %q, want %q", tt.jobID, got, tt.want)
		}
	}
}

// checkContainerName asserts the invariants the .NET property tests check,
// for any input.
func checkContainerName(t *testing.T, jobID, name string) {
	t.Helper()
	if len(name) < 3 || len(name) > 63 {
		t.Fatalf("ContainerName(%q) = %q: length %d not in 3..63", jobID, name, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			t.Fatalf("ContainerName(%q) = %q: character %q not in [a-z0-9-]", jobID, name, c)
		}
	}
	if strings.Contains(name, "--") || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		t.Fatalf("ContainerName(%q) = %q: '-' not between alphanumerics", jobID, name)
	}
}

// isValidBatchStyleID reports whether "job-"+lower(id) is already a valid
// container name, in which case the name must be exactly that.
func isValidBatchStyleID(id string) bool {
	l := strings.ToLower(id)
	return len(l) >= 1 && len(l) <= 59 && isPermittedContainerName(l) &&
		!strings.HasSuffix(l, "-") && !strings.Contains(l, "--")
}

func TestContainerNameInvariantsOnRandomBatchIDs(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:"
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, 1+r.IntN(80))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		id := string(b)
		name := ContainerName(id)
		checkContainerName(t, id, name)
		if isValidBatchStyleID(id) && name != "job-"+strings.ToLower(id) {
			t.Fatalf("valid ID %q changed to %q", id, name)
		}
		if ContainerName(strings.ToUpper(id)) != name {
			t.Fatalf("ContainerName is not case-insensitive for %q", id)
		}
	}
}

func TestContainerNameLeavesValidIDsUnchanged(t *testing.T) {
	for _, id := range []string{"a", "0", "abc-def", "Job-1-2-3", strings.Repeat("x", 59)} {
		if got, want := ContainerName(id), "job-"+strings.ToLower(id); got != want {
			t.Errorf("ContainerName(%q) = %q, want %q", id, got, want)
		}
	}
	if got := ContainerName(strings.Repeat("x", 60)); len(got) != 4+15+1+40 {
		t.Errorf("60-character ID not hashed: %q", got)
	}
}

func FuzzContainerName(f *testing.F) {
	for _, s := range []string{"job-15", "-my_job-sam--", "---", "", "schedule:job-1", "ünïcode", "a b", "\xff\xfe", strings.Repeat("Z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		name := ContainerName(id)
		checkContainerName(t, id, name)
		if isValidBatchStyleID(id) && name != "job-"+strings.ToLower(id) {
			t.Fatalf("valid ID %q changed to %q", id, name)
		}
		if ContainerName(id) != name {
			t.Fatalf("ContainerName(%q) is not deterministic", id)
		}
	})
}
