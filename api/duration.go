package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is an ISO-8601 duration on the wire ("PT1H", "P7D"). The largest
// value, Infinite, stands for "no limit" and is written the way the Batch
// service writes .NET's TimeSpan.MaxValue.
type Duration time.Duration

// Infinite is the "unlimited" duration.
const Infinite = Duration(math.MaxInt64)

// InfiniteWire is how the Batch service spells an unlimited duration.
const InfiniteWire = "P10675199DT2H48M5.4775807S"

// D converts a time.Duration into a *Duration for use in optional fields.
func D(d time.Duration) *Duration { v := Duration(d); return &v }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as an ISO-8601 duration.
func (d Duration) String() string {
	if d == Infinite {
		return InfiniteWire
	}
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	v := time.Duration(d)
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	b.WriteByte('P')
	days := v / (24 * time.Hour)
	v -= days * 24 * time.Hour
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if v == 0 {
		return b.String()
	}
	b.WriteByte('T')
	h := v / time.Hour
	v -= h * time.Hour
	m := v / time.Minute
	v -= m * time.Minute
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if v > 0 {
		sec := v / time.Second
		frac := v - sec*time.Second
		if frac == 0 {
			fmt.Fprintf(&b, "%dS", sec)
		} else {
			f := strings.TrimRight(fmt.Sprintf("%09d", int64(frac)), "0")
			fmt.Fprintf(&b, "%d.%sS", sec, f)
		}
	}
	return b.String()
}

// MarshalJSON writes d as an ISO-8601 string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads an ISO-8601 duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be an ISO-8601 string such as \"PT1H\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses an ISO-8601 duration of the form PnW or
// PnDTnHnMn.nS (years and months are refused: they have no fixed length).
// Values too large for a time.Duration saturate to Infinite, which is how
// "P10675199DT2H48M5.4775807S" round-trips.
func ParseDuration(s string) (Duration, error) {
	bad := func(why string) (Duration, error) {
		return 0, fmt.Errorf("invalid ISO-8601 duration %q: %s (examples: \"PT30M\", \"P7D\", \"P1DT2H\")", s, why)
	}
	in := strings.ToUpper(strings.TrimSpace(s))
	neg := false
	if strings.HasPrefix(in, "-") {
		neg = true
		in = in[1:]
	}
	if !strings.HasPrefix(in, "P") || len(in) < 2 {
		return bad("must start with P")
	}
	in = in[1:]
	var total float64 // seconds; float keeps overflow detectable
	inTime := false
	seen := false
	for len(in) > 0 {
		if in[0] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime = true
			in = in[1:]
			if len(in) == 0 {
				return bad("T must be followed by a time component")
			}
			continue
		}
		i := 0
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.' || in[i] == ',') {
			i++
		}
		if i == 0 || i == len(in) {
			return bad("expected a number followed by a unit")
		}
		num, err := strconv.ParseFloat(strings.ReplaceAll(in[:i], ",", "."), 64)
		if err != nil {
			return bad("bad number")
		}
		unit := in[i]
		in = in[i+1:]
		seen = true
		switch {
		case !inTime && unit == 'W':
			total += num * 7 * 86400
		case !inTime && unit == 'D':
			total += num * 86400
		case !inTime && (unit == 'Y' || unit == 'M'):
			return bad("years and months are not supported")
		case inTime && unit == 'H':
			total += num * 3600
		case inTime && unit == 'M':
			total += num * 60
		case inTime && unit == 'S':
			total += num
		default:
			return bad(fmt.Sprintf("unexpected unit %q", unit))
		}
	}
	if !seen {
		return bad("no components")
	}
	ns := total * 1e9
	if ns >= math.MaxInt64 {
		if neg {
			return bad("negative infinite duration")
		}
		return Infinite, nil
	}
	v := Duration(math.Round(ns))
	if neg {
		v = -v
	}
	return v, nil
}
