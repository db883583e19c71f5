package odata

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// Accessor returns the value of a property of one entity by its path, as
// written in the schema. ok is false when the entity has no value there
// (for example executionInfo/exitCode of a task that has not run); the value
// then compares as null.
type Accessor func(path string) (value any, ok bool)

// Eval reports whether the entity read through get matches the filter. A nil
// filter matches everything. See the package documentation for the
// semantics.
func (f *Filter) Eval(get Accessor) bool {
	if f == nil || f.Root == nil {
		return true
	}
	return EvalNode(f.Root, get)
}

// EvalNode evaluates one node of a filter tree, for a store that pushed some
// conjuncts down and evaluates the others itself.
func EvalNode(n Node, get Accessor) bool {
	switch n := n.(type) {
	case *And:
		return EvalNode(n.Left, get) && EvalNode(n.Right, get)
	case *Or:
		return EvalNode(n.Left, get) || EvalNode(n.Right, get)
	case *Not:
		return !EvalNode(n.X, get)
	case *Comparison:
		return evalComparison(n, get)
	case *StartsWith:
		v, ok := get(n.Path)
		if !ok {
			return false
		}
		s, ok := asString(v)
		return ok && strings.HasPrefix(s, n.Prefix)
	}
	return false
}

func evalComparison(c *Comparison, get Accessor) bool {
	raw, ok := get(c.Path)
	var cmp int // sign of value - literal, when both are present
	if ok {
		switch c.Type {
		case String:
			var s string
			if s, ok = asString(raw); ok && c.Value != nil {
				cmp = strings.Compare(s, c.Value.(string))
			}
		case Enum:
			var s string
			if s, ok = asString(raw); ok && c.Value != nil {
				if !strings.EqualFold(s, c.Value.(string)) {
					cmp = 1
				}
			}
		case Int:
			var n int64
			if n, ok = asInt(raw); ok && c.Value != nil {
				cmp = compareInt(n, c.Value.(int64))
			}
		case DateTime:
			var t time.Time
			if t, ok = asTime(raw); ok && c.Value != nil {
				cmp = t.Compare(c.Value.(time.Time))
			}
		case Bool:
			var b bool
			if b, ok = asBool(raw); ok && c.Value != nil && b != c.Value.(bool) {
				cmp = 1
			}
		default:
			ok = false
		}
	}
	if !ok || c.Value == nil {
		// null semantics: only equality with null, or inequality between
		// null and a value, holds.
		isNull := !ok
		litNull := c.Value == nil
		switch c.Op {
		case Eq:
			return isNull == litNull
		case Ne:
			return isNull != litNull
		}
		return false
	}
	switch c.Op {
	case Eq:
		return cmp == 0
	case Ne:
		return cmp != 0
	case Gt:
		return cmp > 0
	case Ge:
		return cmp >= 0
	case Lt:
		return cmp < 0
	case Le:
		return cmp <= 0
	}
	return false
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The as* functions convert an accessor value; ok is false for a nil
// pointer or a value of an unsupported type, which then counts as missing.

func asString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case *string:
		if v == nil {
			return "", false
		}
		return *v, true
	}
	rv, ok := deref(v)
	if !ok {
		return "", false
	}
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	if s, ok := rv.Interface().(fmt.Stringer); ok {
		return s.String(), true
	}
	return "", false
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case *int32:
		if v == nil {
			return 0, false
		}
		return int64(*v), true
	case *int64:
		if v == nil {
			return 0, false
		}
		return *v, true
	case *int:
		if v == nil {
			return 0, false
		}
		return int64(*v), true
	case float64: // numbers decoded from JSON into an interface
		if v != math.Trunc(v) || v < math.MinInt64 || v >= math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	}
	rv, ok := deref(v)
	if !ok {
		return 0, false
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	}
	return 0, false
}

func asTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case *time.Time:
		if v == nil {
			return time.Time{}, false
		}
		return *v, true
	case string: // date-times decoded from JSON into an interface
		return parseDateTime(v)
	}
	rv, ok := deref(v)
	if !ok {
		return time.Time{}, false
	}
	if t, ok := rv.Interface().(time.Time); ok {
		return t, true
	}
	if rv.Type().ConvertibleTo(reflect.TypeFor[time.Time]()) {
		return rv.Convert(reflect.TypeFor[time.Time]()).Interface().(time.Time), true
	}
	return time.Time{}, false
}

func asBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case *bool:
		if v == nil {
			return false, false
		}
		return *v, true
	}
	rv, ok := deref(v)
	if !ok || rv.Kind() != reflect.Bool {
		return false, false
	}
	return rv.Bool(), true
}

// deref follows pointers; ok is false for nil.
func deref(v any) (reflect.Value, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return reflect.Value{}, false
		}
		rv = rv.Elem()
	}
	return rv, rv.IsValid()
}

// Normalize converts a value read by an Accessor for a property of type t
// to the Go type a literal of t has (string for String and Enum, int64,
// time.Time, bool), with the conversions Eval applies; ok is false when
// Eval would treat the value as missing (null). A store that keeps
// properties in columns uses it so that its columns hold what Eval
// compares.
func Normalize(t Type, v any) (any, bool) {
	switch t {
	case String, Enum:
		return asString(v)
	case Int:
		return asInt(v)
	case DateTime:
		return asTime(v)
	case Bool:
		return asBool(v)
	}
	return nil, false
}
