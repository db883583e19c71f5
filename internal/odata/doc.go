// Package odata implements the subset of OData query options the Batch API
// uses: $filter expressions, and $select / $expand property lists.
//
// # $filter
//
// ParseFilter parses an expression against a [Schema] the caller supplies,
// a map from property path to [Type]. The grammar, with case-insensitive
// keywords:
//
//	expr       = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | primary
//	primary    = "(" expr ")"
//	           | "startswith" "(" path "," string ")" [ ("eq"|"ne") bool ]
//	           | operand cmp operand            one side a path, the other a literal
//	           | path                           a Bool property alone means "path eq true"
//	cmp        = "eq" | "ne" | "gt" | "ge" | "lt" | "le"
//	path       = name { "/" name }              e.g. executionInfo/exitCode
//	literal    = string | integer | bool | datetime | "null"
//	string     = "'" { char | "''" } "'"
//	datetime   = "datetime'" iso8601 "'" | "datetimeoffset'" iso8601 "'" | bare iso8601
//
// "not" binds tighter than "and", which binds tighter than "or". A
// comparison whose literal comes first ("5 lt x") is stored the other way
// round ("x gt 5"). Property names are matched exactly, or failing that
// case-insensitively, and are stored in the schema's spelling.
//
// Types are checked when parsing: String and Enum properties take string
// literals, Int properties integers, Bool properties true or false, DateTime
// properties datetime literals (bare, prefixed, or a quoted string that is an
// ISO-8601 date-time; without a zone it is UTC). Enum and Bool properties
// allow only eq and ne. null is allowed with eq and ne only. Everything else
// is an [*Error] that says what is wrong and where (1-based position and the
// offending token).
//
// # Evaluation
//
// [Filter.Eval] evaluates against an entity through an [Accessor]. The
// semantics, chosen to match what a Batch client observes:
//
//   - A missing value (the accessor returns ok=false, or a nil pointer) is
//     null. "x eq null" is true and "x ne null" false exactly when x is
//     missing; any other comparison with a missing value is false except ne,
//     which is true ("executionInfo/exitCode ne 0" matches a task that has
//     not run). startswith on a missing value is false. not inverts the
//     result, so "not (x eq 1)" is true when x is missing.
//   - String comparisons are ordinal: case-sensitive and by byte.
//     startswith is case-sensitive too.
//   - Enum comparisons are case-insensitive ("state eq 'Completed'" matches
//     "completed").
//   - DateTime comparisons compare instants, whatever the time zone.
//   - Accessor values may be string, any integer type, bool, time.Time, a
//     pointer to one of these, a named type with one of these as underlying
//     type (such as api.TaskState), or a fmt.Stringer for String and Enum
//     properties. A value of another type counts as missing.
//
// # Push-down
//
// The parsed tree is made of the exported node types [And], [Or], [Not],
// [Comparison] and [StartsWith]; [Walk] visits it and [Conjuncts] splits a
// top-level "and" chain. [Filter.EqualityConjunct] extracts a top-level
// "path eq literal" term (such as state eq 'active') for a store to narrow
// its query with. A push-down is only a pre-filter: the store must still
// Eval the whole filter on what it reads.
//
// # $select and $expand
//
// [ParseSelect] and [ParseExpand] split a comma-separated list, trim the
// names, drop duplicates and check each name against an allowed set.
package odata
