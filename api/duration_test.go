package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1H", time.Hour, true},
		{"P7D", 7 * 24 * time.Hour, true},
		{"PT30M", 30 * time.Minute, true},
		{"PT5.5S", 5500 * time.Millisecond, true},
		{"P1DT2H3M4S", 26*time.Hour + 3*time.Minute + 4*time.Second, true},
		{"P2W", 14 * 24 * time.Hour, true},
		{"pt1h", time.Hour, true},
		{"PT0S", 0, true},
		{"-PT1S", -time.Second, true},
		{InfiniteWire, time.Duration(Infinite), true},
		{"P99999999D", time.Duration(Infinite), true},
		{"", 0, false},
		{"1h", 0, false},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1Y", 0, false},
		{"P1M", 0, false},
		{"PT1X", 0, false},
		{"P1H", 0, false},
		{"PT1H2", 0, false},
		{"PTT1H", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && time.Duration(got) != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, time.Duration(got), err, tt.want, tt.ok)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "PT0S"},
		{time.Hour, "PT1H"},
		{7 * 24 * time.Hour, "P7D"},
		{90 * time.Minute, "PT1H30M"},
		{1500 * time.Millisecond, "PT1.5S"},
		{26*time.Hour + 4*time.Second, "P1DT2H4S"},
		{time.Duration(Infinite), InfiniteWire},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDurationJSONRoundTrip(t *testing.T) {
	c := TaskConstraints{MaxWallClockTime: D(90 * time.Second), RetentionTime: func() *Duration { d := Infinite; return &d }()}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"maxWallClockTime":"PT1M30S","retentionTime":"P10675199DT2H48M5.4775807S"}` {
		t.Fatalf("marshal = %s", b)
	}
	var back TaskConstraints
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if *back.MaxWallClockTime != *c.MaxWallClockTime || *back.RetentionTime != Infinite {
		t.Fatalf("round trip = %+v", back)
	}
}

func TestEnumsAcceptAnyCase(t *testing.T) {
	var o OutputFileUploadOptions
	if err := json.Unmarshal([]byte(`{"uploadCondition":"TaskCompletion"}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.UploadCondition != UploadOnCompletion {
		t.Fatalf("got %q", o.UploadCondition)
	}
	b, _ := json.Marshal(o)
	if string(b) != `{"uploadCondition":"taskcompletion"}` {
		t.Fatalf("marshal = %s", b)
	}
}

// ParseDuration never panics, and whatever it accepts round-trips through
// String (except values that saturate to Infinite).
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H", "P7D", "PT5.5S", InfiniteWire, "-PT1S", "P1DT2H3M4S", "P2W", "PT,5S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil || d == Infinite {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, d.String(), err)
		}
		if diff := back - d; diff > 1 || diff < -1 {
			t.Fatalf("%q → %v → %q → %v", s, time.Duration(d), d.String(), time.Duration(back))
		}
	})
}
