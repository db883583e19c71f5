package api

import "time"

// Now returns the current UTC time at the 100 ns precision the Batch service
// uses, so that formatted times carry at most seven fractional digits.
func Now() time.Time { return time.Now().UTC().Truncate(100 * time.Nanosecond) }

// T returns a pointer to t, for optional date-time fields.
func T(t time.Time) *time.Time { return &t }

// I32 returns a pointer to v, for optional integer fields.
func I32(v int32) *int32 { return &v }

// B returns a pointer to v, for optional boolean fields.
func B(v bool) *bool { return &v }
