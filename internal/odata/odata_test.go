package odata

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// taskSchema is the shape of the Batch task list filter.
var taskSchema = Schema{
	"id":                     String,
	"displayName":            String,
	"state":                  Enum,
	"creationTime":           DateTime,
	"stateTransitionTime":    DateTime,
	"executionInfo/exitCode": Int,
	"executionInfo/result":   Enum,
	"requiredSlots":          Int,
	"isDirectory":            Bool,
}

type taskState string // stands in for api.TaskState

func ptr[T any](v T) *T { return &v }

// task is an entity with every kind of accessor value.
func task(id string, state taskState, exit *int32, created time.Time) Accessor {
	return func(path string) (any, bool) {
		switch path {
		case "id":
			return id, true
		case "state":
			return state, true
		case "creationTime":
			return created, true
		case "executionInfo/exitCode":
			if exit == nil {
				return nil, false
			}
			return exit, true
		case "executionInfo/result":
			if exit == nil {
				return nil, false
			}
			if *exit == 0 {
				return "Success", true
			}
			return "failure", true
		case "requiredSlots":
			return uint8(1), true
		case "isDirectory":
			return ptr(false), true
		case "stateTransitionTime":
			return (*time.Time)(nil), true // nil pointer: missing
		}
		return nil, false
	}
}

var t2020 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFilter_Eval(t *testing.T) {
	done := task("task-1", "completed", ptr[int32](3), t2020.Add(time.Hour))
	ok0 := task("Task-2", "completed", ptr[int32](0), t2020.Add(-time.Hour))
	active := task("o'brien", "active", nil, t2020)

	tests := []struct {
		filter            string
		done, ok0, active bool
	}{
		{"state eq 'completed'", true, true, false},
		{"STATE EQ 'Completed'", true, true, false}, // keywords and enums in any case
		{"state ne 'completed'", false, false, true},
		{"id eq 'task-1'", true, false, false},
		{"id eq 'TASK-1'", false, false, false},  // strings are case-sensitive
		{"id gt 'task'", true, false, false},     // ordinal: 'T' and 'o' sort before 't'
		{"id eq 'o''brien'", false, false, true}, // '' escapes a quote
		{"startswith(id,'task')", true, false, false},
		{"startswith(id, 'Task') eq true", false, true, false},
		{"startswith(id,'task') eq false", false, true, true},
		{"startswith(id,'task') ne true", false, true, true},
		{"executionInfo/exitCode eq 0", false, true, false},
		{"executionInfo/exitCode ne 0", true, false, true},  // missing ne 0 is true
		{"executionInfo/exitCode gt -1", true, true, false}, // missing gt is false
		{"executionInfo/exitCode le 3", true, true, false},
		{"executionInfo/exitCode eq null", false, false, true},
		{"executionInfo/exitCode ne null", true, true, false},
		{"not (executionInfo/exitCode eq 0)", true, false, true},
		{"not executionInfo/exitCode eq 0", true, false, true},
		{"0 lt executionInfo/exitCode", true, false, false}, // literal first
		{"executionInfo/result eq 'success'", false, true, false},
		{"executionInfo/result eq 'failure'", true, false, false},
		{"creationTime gt datetime'2020-01-01T00:00:00Z'", true, false, false},
		{"creationTime ge 2020-01-01T00:00:00Z", true, false, true},
		{"creationTime lt 2020-01-01T01:00:00+01:00", false, true, false}, // zones compare as instants
		{"creationTime eq datetime'2020-01-01T00:00:00'", false, false, true},
		{"creationTime eq datetimeoffset'2020-01-01T00:00:00.000Z'", false, false, true},
		{"creationTime eq '2020-01-01T00:00:00Z'", false, false, true},
		{"stateTransitionTime eq null", true, true, true}, // nil pointer is missing
		{"stateTransitionTime gt 2000-01-01T00:00:00Z", false, false, false},
		{"requiredSlots eq 1", true, true, true}, // any integer type
		{"isDirectory eq false", true, true, true},
		{"isDirectory", false, false, false},
		{"not isDirectory", true, true, true},
		{"state eq 'completed' and executionInfo/exitCode ne 0", true, false, false},
		{"state eq 'active' or executionInfo/exitCode eq 0", false, true, true},
		{"state eq 'active' or state eq 'completed' and executionInfo/exitCode eq 0", false, true, true}, // and binds tighter
		{"(state eq 'active' or state eq 'completed') and executionInfo/exitCode eq 0", false, true, false},
		{"((((id eq 'task-1'))))", true, false, false},
		{"\tid  eq\n'task-1' ", true, false, false},
		{"displayName eq null", true, true, true}, // accessor has no value
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter(tc.filter, taskSchema)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				get  Accessor
				want bool
			}{{"done", done, tc.done}, {"ok0", ok0, tc.ok0}, {"active", active, tc.active}} {
				if got := f.Eval(c.get); got != c.want {
					t.Errorf("%s: got %v, want %v (parsed as %s)", c.name, got, c.want, f)
				}
			}
		})
	}
}

func TestParseFilter_Empty(t *testing.T) {
	for _, s := range []string{"", "  "} {
		f, err := ParseFilter(s, taskSchema)
		if err != nil || f != nil {
			t.Fatalf("%q: %v %v", s, f, err)
		}
		if !f.Eval(func(string) (any, bool) { return nil, false }) {
			t.Fatal("nil filter does not match")
		}
	}
}

func TestParseFilter_String(t *testing.T) {
	tests := []struct{ in, want string }{
		{"state eq 'active'", "state eq 'active'"},
		{"STATE Eq 'Active'", "state eq 'Active'"},
		{"State eq 'x'", "state eq 'x'"}, // schema spelling
		{"5 lt executionInfo/exitCode", "executionInfo/exitCode gt 5"},
		{"a eq 1 and b eq 2 or c eq 3", "(a eq 1 and b eq 2) or c eq 3"},
		{"a eq 1 and (b eq 2 or c eq 3)", "a eq 1 and (b eq 2 or c eq 3)"},
		{"not not a eq 1", "not not a eq 1"},
		{"startswith(s,'it''s')", "startswith(s,'it''s')"},
		{"startswith(s,'x') eq false", "not startswith(s,'x')"},
		{"t gt 2020-01-01T01:00:00+01:00", "t gt datetime'2020-01-01T00:00:00Z'"},
		{"t eq null", "t eq null"},
		{"flag", "flag eq true"},
		{"a eq -7", "a eq -7"},
	}
	schema := Schema{"state": Enum, "executionInfo/exitCode": Int, "a": Int, "b": Int, "c": Int, "s": String, "t": DateTime, "flag": Bool}
	for _, tc := range tests {
		f, err := ParseFilter(tc.in, schema)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := f.String(); got != tc.want {
			t.Errorf("%q printed as %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFilter_Errors(t *testing.T) {
	tests := []struct {
		filter string
		pos    int
		token  string
		msg    string
	}{
		{"stat eq 'active'", 1, "stat", `unknown property "stat"; the properties that can be filtered on are: creationTime, displayName, executionInfo/exitCode`},
		{"state eq 5", 10, "5", "state is an enum property; compare it with a quoted string such as 'active'"},
		{"executionInfo/exitCode eq '0'", 27, "'0'", "executionInfo/exitCode is an integer property; compare it with an integer such as 0"},
		{"creationTime gt 5", 17, "5", "is not an ISO-8601 date-time"},
		{"creationTime gt 0000-01-01T00:00:00+01:00", 17, "0000-01-01T00:00:00+01:00", "is not an ISO-8601 date-time"},
		{"creationTime gt 'yesterday'", 17, "'yesterday'", "is not an ISO-8601 date-time"},
		{"creationTime gt true", 17, "true", "creationTime is a date-time property; compare it with a date-time"},
		{"isDirectory eq 'true'", 16, "'true'", "compare it with true or false"},
		{"id eq true", 7, "true", "id is a string property"},
		{"state gt 'active'", 1, "state", "only eq and ne apply"},
		{"id lt null", 7, "null", "null can only be compared with eq or ne"},
		{"executionInfo/exitCode eq 99999999999999999999", 27, "99999999999999999999", "out of range"},
		{"id eq 'abc", 7, "'abc", "unterminated string literal"},
		{"id eq", 6, "", "expected a literal"},
		{"id 'x'", 4, "'x'", "expected a comparison operator"},
		{"id eq 'a' and", 14, "", "expected a comparison"},
		{"id eq 'a' xor id eq 'b'", 11, "xor", "expected 'and', 'or' or the end"},
		{"(id eq 'a'", 11, "", "expected ')' to close the '(' at position 1"},
		{"id eq 'a')", 10, ")", "unbalanced ')'"},
		{"id eq displayName", 7, "displayName", "a comparison needs a property on one side and a literal on the other"},
		{"'a' eq 'b'", 8, "'b'", "expected a property"},
		{"endswith(id,'x')", 1, "endswith", `unknown function "endswith"`},
		{"startswith(state,'x')", 12, "state", "startswith applies to string properties"},
		{"startswith(id,5)", 15, "5", "expected a quoted string"},
		{"startswith(id,'x') gt true", 20, "gt", "only be compared with eq or ne"},
		{"executionInfo/ eq 1", 1, "executionInfo/", "must not end with '/'"},
		{"id eq 'a' & id eq 'b'", 11, "&", "unexpected character"},
		{"id eq 'é' or é", 15, "é", "unexpected character"}, // positions count bytes
		{"and eq 1", 1, "and", `not the keyword "and"`},
		{"id", 3, "", "expected a comparison operator"},
		{strings.Repeat("(", 200) + "id eq 'a'" + strings.Repeat(")", 200), 102, "(", "more than 100 deep"},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			_, err := ParseFilter(tc.filter, taskSchema)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *odata.Error", err)
			}
			if e.Param != "$filter" || e.Pos != tc.pos || e.Token != tc.token || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got Pos=%d Token=%q Msg=%q\nwant Pos=%d Token=%q Msg containing %q", e.Pos, e.Token, e.Msg, tc.pos, tc.token, tc.msg)
			}
			if !strings.Contains(e.Error(), "invalid $filter at position") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
}

func TestEqualityConjunct(t *testing.T) {
	tests := []struct {
		filter string
		want   any
		ok     bool
	}{
		{"state eq 'active'", "active", true},
		{"id eq 'x' and state eq 'Running' and executionInfo/exitCode eq 0", "Running", true},
		{"(id eq 'x' and state eq 'running') and requiredSlots eq 1", "running", true},
		{"'active' eq state", "active", true},
		{"state eq 'a' or state eq 'b'", nil, false},
		{"not state eq 'a'", nil, false},
		{"state ne 'a'", nil, false},
		{"state eq null", nil, false},
		{"id eq 'x'", nil, false},
	}
	for _, tc := range tests {
		f, err := ParseFilter(tc.filter, taskSchema)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := f.EqualityConjunct("state")
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %v, %v; want %v, %v", tc.filter, got, ok, tc.want, tc.ok)
		}
	}
	var nilFilter *Filter
	if _, ok := nilFilter.EqualityConjunct("state"); ok {
		t.Error("nil filter has a conjunct")
	}
}

func TestWalkAndConjuncts(t *testing.T) {
	f, err := ParseFilter("id eq 'a' and (state eq 'x' or not startswith(id,'b')) and creationTime gt 2020-01-01T00:00:00Z", taskSchema)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	Walk(f.Root, func(n Node) bool {
		switch n := n.(type) {
		case *And:
			kinds = append(kinds, "and")
		case *Or:
			kinds = append(kinds, "or")
		case *Not:
			kinds = append(kinds, "not")
		case *Comparison:
			kinds = append(kinds, n.Path)
		case *StartsWith:
			kinds = append(kinds, "startswith:"+n.Prefix)
		}
		return true
	})
	if got, want := strings.Join(kinds, " "), "and and id or state not startswith:b creationTime"; got != want {
		t.Errorf("Walk order %q, want %q", got, want)
	}
	terms := Conjuncts(f.Root)
	if len(terms) != 3 {
		t.Fatalf("Conjuncts = %v", terms)
	}
	if c := terms[2].(*Comparison); c.Value.(time.Time) != t2020 || c.Type != DateTime {
		t.Errorf("third conjunct %v", c)
	}
	n := 0
	Walk(f.Root, func(Node) bool { n++; return false })
	if n != 1 {
		t.Errorf("Walk descended after false: %d", n)
	}
}

func TestParseSelect(t *testing.T) {
	allowed := []string{"id", "state", "executionInfo", "creationTime"}
	got, err := ParseSelect(" id , State,id,executionInfo ", allowed)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "id,state,executionInfo" {
		t.Errorf("got %q", got)
	}
	if got, err := ParseSelect("", allowed); got != nil || err != nil {
		t.Errorf("empty: %v %v", got, err)
	}
	tests := []struct {
		value string
		pos   int
		token string
		msg   string
	}{
		{"id,bogus", 4, "bogus", `unknown property "bogus"; allowed: id, state, executionInfo, creationTime`},
		{"id,  bogus ", 6, "bogus", `unknown property "bogus"`},
		{"id,,state", 4, "", "empty property name"},
		{"id,", 4, "", "empty property name"},
	}
	for _, tc := range tests {
		_, err := ParseSelect(tc.value, allowed)
		var e *Error
		if !errors.As(err, &e) || e.Param != "$select" || e.Pos != tc.pos || e.Token != tc.token || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%q: got %#v", tc.value, err)
		}
	}
	if _, err := ParseExpand("stats,foo", []string{"stats"}); err == nil || !strings.Contains(err.Error(), `invalid $expand at position 7 near "foo"`) {
		t.Errorf("expand: %v", err)
	}
}

func TestAccessorValueTypes(t *testing.T) {
	schema := Schema{"s": String, "e": Enum, "i": Int, "t": DateTime, "b": Bool}
	type myInt int16
	type myBool bool
	vals := map[string][]any{
		"s": {"x", ptr("x"), taskState("x"), ptr(taskState("x")), fmtStringer("x")},
		"e": {"X", ptr("x"), taskState("X")},
		"i": {7, int32(7), int64(7), uint(7), myInt(7), ptr(7), ptr[int32](7), ptr[int64](7), float64(7)},
		"t": {t2020, ptr(t2020), "2020-01-01T00:00:00Z", t2020.In(time.FixedZone("x", 3600))},
		"b": {true, ptr(true), myBool(true)},
	}
	filters := map[string]string{"s": "s eq 'x'", "e": "e eq 'x'", "i": "i eq 7", "t": "t eq 2020-01-01T00:00:00Z", "b": "b"}
	for path, vs := range vals {
		f, err := ParseFilter(filters[path], schema)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if !f.Eval(func(string) (any, bool) { return v, true }) {
				t.Errorf("%s: value %#v (%T) did not match", f, v, v)
			}
		}
		// Unsupported types and nil pointers count as missing.
		for _, v := range []any{struct{}{}, (*int)(nil), nil, 7.5} {
			if f.Eval(func(string) (any, bool) { return v, true }) {
				t.Errorf("%s: value %#v (%T) matched", f, v, v)
			}
		}
	}
}

type fmtStringer string

func (s fmtStringer) String() string { return string(s) }

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"state eq 'active'",
		"executionInfo/exitCode ne 0 and not (state eq 'completed' or id lt 'x')",
		"startswith(id,'t''1') eq false",
		"creationTime gt datetime'2020-01-01T00:00:00.1234567Z'",
		"creationTime le 2020-01-01T00:00:00+05:30",
		"-5 ge executionInfo/exitCode",
		"isDirectory or isDirectory eq null",
		"((id eq 'a')) and ((((id eq 'b'))))",
		"id eq 'é'",
		"executionInfo/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s, taskSchema)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
			if e.Pos < 1 || e.Pos > len(s)+1 {
				t.Fatalf("position %d outside the input of length %d", e.Pos, len(s))
			}
			return
		}
		if flt == nil {
			return
		}
		_ = flt.Eval(func(string) (any, bool) { return nil, false })
		_ = flt.Eval(func(p string) (any, bool) { return p, true })
		printed := flt.String()
		again, err := ParseFilter(printed, taskSchema)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q printed as %q, then as %q", s, printed, again.String())
		}
	})
}

func BenchmarkEvalFilter(b *testing.B) {
	f, err := ParseFilter("state eq 'completed' and (executionInfo/exitCode ne 0 or startswith(id,'task-')) and creationTime gt 2020-01-01T00:00:00Z", taskSchema)
	if err != nil {
		b.Fatal(err)
	}
	get := task("task-1", "completed", ptr[int32](3), t2020.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if !f.Eval(get) {
			b.Fatal("no match")
		}
	}
}
