package api

import (
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// TimePrecision is the resolution of every time the Batch service emits:
// 100 ns, i.e. at most seven fractional digits ("2026-11-24T08:16:12.3785771Z").
// .NET's DateTime and other strict parsers refuse more digits, so times
// carrying Go's nanoseconds are truncated to it when marshalled.
const TimePrecision = 100 * time.Nanosecond

// FormatTime formats t as the service writes a date-time: RFC 3339 with at
// most seven fractional digits (trailing zeros dropped, as encoding/json
// does).
func FormatTime(t time.Time) string {
	return t.Truncate(TimePrecision).Format(time.RFC3339Nano)
}

// Marshal encodes v exactly as encoding/json does, except that every
// time.Time (and *time.Time), wherever it sits in v, is written with
// FormatTime. It is the one way the HTTP API encodes resources, so no
// response carries a timestamp with more than seven fractional digits
// whatever precision the store or an agent recorded.
func Marshal(v any) ([]byte, error) {
	return json.Marshal(v, jsonv1.DefaultOptionsV1(), json.WithMarshalers(timeMarshaler))
}

var timeMarshaler = json.MarshalToFunc(func(enc *jsontext.Encoder, t time.Time) error {
	return enc.WriteToken(jsontext.String(FormatTime(t)))
})
