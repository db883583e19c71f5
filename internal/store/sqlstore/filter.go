package sqlstore

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
)

// A $filter runs in SQL over filter columns: the filterable properties
// of tasks, jobs and pools that the store keeps beside the JSON body
// (migration 00003). Every column is written from the entity through
// filterprops.Accessor, the same accessor the Go evaluator reads, and the
// SQL a comparison becomes keeps the evaluator's semantics exactly:
//
//   - a property the accessor reports missing is NULL, and each predicate
//     is written so that it is TRUE or FALSE, never NULL (x ne 'a' holds
//     for a missing x, x gt 1 does not, and "not" inverts), as odata's
//     null rules say;
//   - strings are stored and bound as bytes (BLOB, BYTEA), so they compare
//     byte by byte as Go's strings.Compare does, whatever the database's
//     collation, and any string (NUL, invalid UTF-8) is representable;
//   - enums are stored and bound as their case-fold key (foldKey), so
//     equality is strings.EqualFold;
//   - date-times are stored as fixed-width UTC text with nanoseconds
//     (timeKey), which sorts as the instants do for years 0–9999, the range
//     the parser accepts and the server's clock produces;
//   - startswith is a byte range [prefix, next(prefix)), which an index can
//     serve.
//
// Conjuncts that name a property without a column (or anything the
// translation does not cover) are evaluated in Go on the rows the query
// returns; the SQL never decides them. Literals are always bound as
// parameters, never written into the statement.

// filterColumn is a filterable property kept in a column.
type filterColumn struct {
	path string // property path, as in filterprops.Schemas
	col  string // column name
	// written says the column is written by the statements that insert
	// and update the row (the filter columns); false for a column the
	// store keeps for itself that happens to hold the property (state).
	written bool
}

// filterTable is the filter columns of one table.
type filterTable struct {
	kind filterprops.Kind
	cols []filterColumn
}

// The filter columns of each table. Adding a property is one line here
// and a column in a migration.
var (
	taskFilter = &filterTable{kind: filterprops.Task, cols: []filterColumn{
		// state holds string(task.State), a lower-case ASCII constant,
		// which is its own fold key.
		{"state", "state", false},
		{"id", "f_id", true},
		{"displayName", "f_display_name", true},
		{"previousState", "f_previous_state", true},
		{"creationTime", "f_creation_time", true},
		{"stateTransitionTime", "f_state_time", true},
		{"requiredSlots", "f_required_slots", true},
		{"executionInfo/exitCode", "f_exit_code", true},
		{"executionInfo/result", "f_result", true},
		{"executionInfo/startTime", "f_start_time", true},
		{"executionInfo/endTime", "f_end_time", true},
		{"executionInfo/retryCount", "f_retry_count", true},
		{"executionInfo/requeueCount", "f_requeue_count", true},
		{"executionInfo/failureInfo/code", "f_failure_code", true},
		{"nodeInfo/nodeId", "f_node_id", true},
	}}
	jobFilter = &filterTable{kind: filterprops.Job, cols: []filterColumn{
		{"state", "state", false}, // string(job.State), as for tasks
		{"id", "f_id", true},
		{"displayName", "f_display_name", true},
		{"creationTime", "f_creation_time", true},
		{"stateTransitionTime", "f_state_time", true},
		{"priority", "f_priority", true},
		{"poolInfo/poolId", "f_pool_id", true},
		{"executionInfo/poolId", "f_exec_pool_id", true},
		{"onAllTasksComplete", "f_on_all_tasks_complete", true},
	}}
	poolFilter = &filterTable{kind: filterprops.Pool, cols: []filterColumn{
		{"id", "f_id", true},
		{"displayName", "f_display_name", true},
		{"state", "f_state", true},
		{"allocationState", "f_allocation_state", true},
		{"vmSize", "f_vm_size", true},
		{"creationTime", "f_creation_time", true},
		{"stateTransitionTime", "f_state_time", true},
		{"currentDedicatedNodes", "f_current_dedicated", true},
		{"targetDedicatedNodes", "f_target_dedicated", true},
	}}
)

// column returns the column holding path, if any.
func (ft *filterTable) column(path string) (filterColumn, bool) {
	for _, c := range ft.cols {
		if c.path == path {
			return c, true
		}
	}
	return filterColumn{}, false
}

// written returns the names of the columns the store writes, in order:
// "f_id=?, f_x=?" for an UPDATE (assign) or "f_id, f_x" for an INSERT.
func (ft *filterTable) written(assign bool) string {
	var b strings.Builder
	for _, c := range ft.cols {
		if !c.written {
			continue
		}
		b.WriteString(", ")
		b.WriteString(c.col)
		if assign {
			b.WriteString("=?")
		}
	}
	return b.String()
}

// placeholders returns ",?" once per written column.
func (ft *filterTable) placeholders() string {
	n := 0
	for _, c := range ft.cols {
		if c.written {
			n++
		}
	}
	return strings.Repeat(",?", n)
}

// values reads entity's written filter columns through its accessor, in
// the order of written.
func (ft *filterTable) values(entity any) []any {
	get := filterprops.Accessor(entity)
	schema := filterprops.Schemas[ft.kind]
	out := make([]any, 0, len(ft.cols))
	for _, c := range ft.cols {
		if !c.written {
			continue
		}
		v, ok := get(c.path)
		out = append(out, columnValue(schema[c.path], v, ok, true))
	}
	return out
}

// columnValue converts an accessor value (of a row when stored, else of a
// literal) to its column value (nil: NULL), with the conversions the
// evaluator applies (odata.Normalize).
func columnValue(t odata.Type, v any, ok, stored bool) any {
	if !ok {
		return nil
	}
	v, ok = odata.Normalize(t, v)
	if !ok {
		return nil
	}
	if s, isString := v.(string); isString && stored {
		v = jsonString(s)
	}
	switch t {
	case odata.String:
		return []byte(v.(string))
	case odata.Enum:
		return []byte(foldKey(v.(string)))
	case odata.Int:
		return v.(int64)
	case odata.DateTime:
		return []byte(timeKey(v.(time.Time)))
	case odata.Bool:
		return int64(b2i(v.(bool)))
	}
	return nil
}

// jsonString returns s as it reads back from the row's JSON body, which is
// what the evaluator sees: encoding/json writes each byte of invalid UTF-8
// as U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// foldKey maps s to a key that is equal for two strings exactly when
// strings.EqualFold says they are: each rune (invalid bytes decode as
// U+FFFD, as in EqualFold) becomes the least lower-case form of its
// Unicode simple-fold orbit. For ASCII it is strings.ToLower.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	best := unicode.ToLower(r)
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if l := unicode.ToLower(f); l < best {
			best = l
		}
	}
	return best
}

// timeKeyLayout is fixed-width, so that keys sort as instants do.
const timeKeyLayout = "2006-01-02T15:04:05.000000000Z"

func timeKey(t time.Time) string { return t.UTC().Format(timeKeyLayout) }

// sqlFilter is the part of a $filter that runs in SQL: a condition (""
// for none) with its arguments, and the conjuncts left to evaluate in Go.
type sqlFilter struct {
	where string
	args  []any
	rest  []odata.Node
}

// translate splits f into the conjuncts that run in SQL over ft's columns
// and the rest. A nil table translates nothing.
func (ft *filterTable) translate(f *odata.Filter) sqlFilter {
	var out sqlFilter
	if f == nil {
		return out
	}
	var terms []string
	for _, n := range odata.Conjuncts(f.Root) {
		var args []any
		if sql, ok := ft.node(n, &args); ok {
			terms = append(terms, sql)
			out.args = append(out.args, args...)
			continue
		}
		out.rest = append(out.rest, n)
	}
	out.where = strings.Join(terms, " AND ")
	return out
}

// node translates n into a condition that is TRUE or FALSE (never NULL)
// on every row, appending its arguments; ok is false if some part of n
// has no column.
func (ft *filterTable) node(n odata.Node, args *[]any) (string, bool) {
	if ft == nil {
		return "", false
	}
	switch n := n.(type) {
	case *odata.And, *odata.Or:
		var l, r odata.Node
		op := " AND "
		if a, ok := n.(*odata.And); ok {
			l, r = a.Left, a.Right
		} else {
			o := n.(*odata.Or)
			l, r, op = o.Left, o.Right, " OR "
		}
		ls, ok := ft.node(l, args)
		if !ok {
			return "", false
		}
		rs, ok := ft.node(r, args)
		if !ok {
			return "", false
		}
		return "(" + ls + op + rs + ")", true
	case *odata.Not:
		x, ok := ft.node(n.X, args)
		if !ok {
			return "", false
		}
		return "(NOT " + x + ")", true
	case *odata.Comparison:
		return ft.comparison(n, args)
	case *odata.StartsWith:
		c, ok := ft.column(n.Path)
		if !ok || filterprops.Schemas[ft.kind][n.Path] != odata.String || !c.written {
			return "", false
		}
		lo := []byte(n.Prefix)
		if len(lo) == 0 {
			return "(" + c.col + " IS NOT NULL)", true
		}
		*args = append(*args, lo)
		if hi, ok := nextPrefix(lo); ok {
			*args = append(*args, hi)
			return "(" + c.col + " IS NOT NULL AND " + c.col + " >= ? AND " + c.col + " < ?)", true
		}
		return "(" + c.col + " IS NOT NULL AND " + c.col + " >= ?)", true
	}
	return "", false
}

var sqlOps = map[odata.Op]string{odata.Eq: "=", odata.Ne: "<>", odata.Gt: ">", odata.Ge: ">=", odata.Lt: "<", odata.Le: "<="}

func (ft *filterTable) comparison(c *odata.Comparison, args *[]any) (string, bool) {
	col, ok := ft.column(c.Path)
	op, opOK := sqlOps[c.Op]
	if !ok || !opOK {
		return "", false
	}
	if c.Value == nil {
		switch c.Op {
		case odata.Eq:
			return "(" + col.col + " IS NULL)", true
		case odata.Ne:
			return "(" + col.col + " IS NOT NULL)", true
		}
		return "(1=0)", true // an ordering against null never holds
	}
	lit := columnValue(c.Type, c.Value, true, false)
	if lit == nil {
		return "", false
	}
	if !col.written {
		// The store's own text column (state): bind the fold key as text.
		b, isBytes := lit.([]byte)
		if !isBytes || c.Type != odata.Enum {
			return "", false
		}
		lit = string(b)
	}
	*args = append(*args, lit)
	if c.Op == odata.Ne {
		return "(" + col.col + " IS NULL OR " + col.col + " <> ?)", true
	}
	return "(" + col.col + " IS NOT NULL AND " + col.col + " " + op + " ?)", true
}

// nextPrefix returns the least byte string greater than every string
// with prefix p; ok is false when there is none (p is all 0xff).
func nextPrefix(p []byte) ([]byte, bool) {
	hi := append([]byte(nil), p...)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i] < 0xff {
			hi[i]++
			return hi[:i+1], true
		}
	}
	return nil, false
}

// residual returns the Go predicate for what a query did not decide: the
// untranslated conjuncts and the caller's Match, both given the entity of
// a row (nil when nothing is left).
func residual(rest []odata.Node, match func(any) bool, entity func(any) any) func(any) bool {
	if len(rest) == 0 && match == nil {
		return nil
	}
	return func(v any) bool {
		e := entity(v)
		if len(rest) > 0 {
			get := filterprops.Accessor(e)
			for _, n := range rest {
				if !odata.EvalNode(n, get) {
					return false
				}
			}
		}
		return match == nil || match(e)
	}
}
