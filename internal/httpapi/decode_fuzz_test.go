package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// bodyTypes are the request bodies the API decodes strictly, indexed by
// the fuzzer's selector.
var bodyTypes = []func() any{
	func() any { return new(api.Pool) },
	func() any { return new(api.PoolPatch) },
	func() any { return new(api.PoolUpdateProperties) },
	func() any { return new(api.PoolResize) },
	func() any { return new(api.Job) },
	func() any { return new(api.JobPatch) },
	func() any { return new(api.JobUpdate) },
	func() any { return new(api.Task) },
	func() any { return new(api.TaskUpdate) },
	func() any { return new(api.TaskAddCollection) },
}

// FuzzDecodeJSON checks the request body decoder over every body type:
// it never panics, every failure is a 400 InvalidRequestBody with a
// message, and anything that is not a JSON object is refused.
func FuzzDecodeJSON(f *testing.F) {
	for i, s := range []string{
		`{"id":"p1","vmSize":"standard_d2s_v3","targetDedicatedNodes":1}`,
		`{"id":"t1","commandLine":"true","dependsOn":{"taskIdRanges":[{"start":1,"end":2147483647}]}}`,
		`{"metadata":[{"name":"a","value":"b"}]}`,
		`{"constraints":{"maxWallClockTime":"PT1H"}}`,
		`{"value":[{"id":"a","commandLine":"x"},null]}`,
		`null`, `[]`, `1`, `"x"`, `{`, `{"id":1}`, `{"unknown":true}`, `{} {}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		v := bodyTypes[int(which)%len(bodyTypes)]()
		err := decodeJSON(data, v, true)
		if err == nil {
			if trimmed := strings.TrimSpace(string(data)); trimmed == "" || trimmed[0] != '{' {
				t.Fatalf("decodeJSON(%q) accepted a body that is not a JSON object", data)
			}
			return
		}
		var se *service.Error
		if !errors.As(err, &se) {
			t.Fatalf("decodeJSON(%q): error %T %v, want *service.Error", data, err, err)
		}
		if statusOf(se.Code) != http.StatusBadRequest || se.Code != api.CodeInvalidRequestBody || se.Message == "" {
			t.Fatalf("decodeJSON(%q) = %d %s %q, want 400 InvalidRequestBody with a message", data, statusOf(se.Code), se.Code, se.Message)
		}
	})
}
