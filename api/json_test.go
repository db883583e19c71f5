package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	base := time.Date(2026, 11, 24, 8, 16, 12, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   time.Time
		want string
	}{
		{"nanoseconds truncated to 7 digits", base.Add(378577138), "2026-11-24T08:16:12.3785771Z"},
		{"exactly 7 digits kept", base.Add(378577100), "2026-11-24T08:16:12.3785771Z"},
		{"trailing zeros dropped", base.Add(500 * time.Millisecond), "2026-11-24T08:16:12.5Z"},
		{"whole second", base, "2026-11-24T08:16:12Z"},
		{"sub-100ns dropped", base.Add(99), "2026-11-24T08:16:12Z"},
		{"offset kept", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("", 3600)), "2026-01-02T03:04:05.1234567+01:00"},
	} {
		if got := FormatTime(tc.in); got != tc.want {
			t.Errorf("%s: FormatTime = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMarshalMatchesEncodingJSONExceptTimes pins that Marshal changes
// nothing but time precision: for values without sub-100ns times it is
// byte-for-byte encoding/json, and times anywhere (values, pointers, nested,
// slices) come out with at most seven fractional digits.
func TestMarshalMatchesEncodingJSONExceptTimes(t *testing.T) {
	ns := time.Date(2026, 11, 24, 8, 16, 12, 378577138, time.UTC)
	trunc := ns.Truncate(TimePrecision)
	task := func(tm time.Time) Task {
		return Task{
			ID: "t1", CommandLine: "echo 2026-11-24T08:16:12.378577138Z", CreationTime: T(tm),
			ExecutionInfo: &TaskExecutionInformation{StartTime: &tm, EndTime: T(tm), ContainerInfo: json.RawMessage(`{"a": 1}`), ExitCode: I32(3)},
			Constraints:   &TaskConstraints{MaxTaskRetryCount: I32(0)},
		}
	}
	for _, tc := range []struct {
		name string
		in   any
		want any // marshalled with encoding/json for comparison
	}{
		{"task with nanosecond times", task(ns), task(trunc)},
		{"list of tasks", []Task{task(ns), task(trunc)}, []Task{task(trunc), task(trunc)}},
		{"zero and nil times", Task{ID: "z", ExecutionInfo: &TaskExecutionInformation{}}, Task{ID: "z", ExecutionInfo: &TaskExecutionInformation{}}},
		{"HTML characters escaped alike", Task{ID: "h", CommandLine: "a<b>&c \u2028"}, Task{ID: "h", CommandLine: "a<b>&c \u2028"}},
		{"map and omitempty", map[string]any{"a": nil, "b": []int(nil), "t": ns}, map[string]any{"a": nil, "b": []int(nil), "t": trunc}},
	} {
		got, err := Marshal(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := json.Marshal(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

// TestMarshalInvalidUTF8 pins that invalid UTF-8 becomes U+FFFD as with
// encoding/json (written as the character rather than as \ufffd, which is
// the same JSON string).
func TestMarshalInvalidUTF8(t *testing.T) {
	b, err := Marshal(Task{ID: "u", CommandLine: "a\xffb"})
	if err != nil {
		t.Fatal(err)
	}
	var got Task
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.CommandLine != "a\uFFFDb" {
		t.Fatalf("commandLine %q, want %q", got.CommandLine, "a\uFFFDb")
	}
}
