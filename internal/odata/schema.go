package odata

import (
	"slices"
	"strings"
)

// Type is the type of a filterable property. It decides which literals and
// operators a comparison may use and how values compare.
type Type int

// Property types.
const (
	// String is compared ordinally (case-sensitive, by byte).
	String Type = iota + 1
	// Enum is a string compared case-insensitively, with eq and ne only.
	Enum
	// Int is a signed 64-bit integer.
	Int
	// DateTime is an instant, written as an ISO-8601 date-time.
	DateTime
	// Bool is true or false, with eq and ne only.
	Bool
)

// String returns the type's name as used in error messages.
func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Enum:
		return "enum"
	case Int:
		return "integer"
	case DateTime:
		return "date-time"
	case Bool:
		return "boolean"
	}
	return "unknown type"
}

// Schema maps each filterable property path ("id", "state",
// "executionInfo/exitCode") to its type. A property absent from the schema
// cannot be used in a filter.
type Schema map[string]Type

// lookup finds path exactly or, failing that, case-insensitively when only
// one property matches, and returns the schema's spelling.
func (s Schema) lookup(path string) (string, Type, bool) {
	if t, ok := s[path]; ok {
		return path, t, true
	}
	found, ft, n := "", Type(0), 0
	for name, t := range s {
		if strings.EqualFold(name, path) {
			found, ft, n = name, t, n+1
		}
	}
	return found, ft, n == 1
}

// names returns the schema's property paths, sorted.
func (s Schema) names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
