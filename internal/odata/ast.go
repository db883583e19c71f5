package odata

import (
	"strconv"
	"strings"
	"time"
)

// Node is a node of a parsed $filter: *And, *Or, *Not, *Comparison or
// *StartsWith. Its String method prints it as $filter syntax that parses back
// to the same tree.
type Node interface {
	String() string
	node()
}

// And is true when both operands are.
type And struct{ Left, Right Node }

// Or is true when either operand is.
type Or struct{ Left, Right Node }

// Not inverts its operand.
type Not struct{ X Node }

// Op is a comparison operator.
type Op int

// Comparison operators.
const (
	Eq Op = iota + 1
	Ne
	Gt
	Ge
	Lt
	Le
)

var opNames = [...]string{Eq: "eq", Ne: "ne", Gt: "gt", Ge: "ge", Lt: "lt", Le: "le"}

// String returns the operator's keyword.
func (o Op) String() string {
	if o >= Eq && o <= Le {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// flip returns the operator with its operands swapped: 5 lt x is x gt 5.
func (o Op) flip() Op {
	switch o {
	case Gt:
		return Lt
	case Ge:
		return Le
	case Lt:
		return Gt
	case Le:
		return Ge
	}
	return o
}

// Comparison compares a property with a literal: Path Op Value.
type Comparison struct {
	// Path is the property path in the schema's spelling.
	Path string
	// Type is the property's type in the schema.
	Type Type
	Op   Op
	// Value is the literal: a string (String, Enum), an int64 (Int), a
	// time.Time in UTC (DateTime), a bool (Bool), or nil for null.
	Value any
}

// StartsWith is startswith(Path, Prefix), a case-sensitive prefix test on a
// String property.
type StartsWith struct {
	Path   string
	Prefix string
}

func (*And) node()        {}
func (*Or) node()         {}
func (*Not) node()        {}
func (*Comparison) node() {}
func (*StartsWith) node() {}

// operand prints n, in parentheses when it is a binary node.
func operand(n Node) string {
	switch n.(type) {
	case *And, *Or:
		return "(" + n.String() + ")"
	}
	return n.String()
}

func (n *And) String() string { return operand(n.Left) + " and " + operand(n.Right) }
func (n *Or) String() string  { return operand(n.Left) + " or " + operand(n.Right) }
func (n *Not) String() string { return "not " + operand(n.X) }

func (n *Comparison) String() string {
	return n.Path + " " + n.Op.String() + " " + formatLiteral(n.Value)
}

func (n *StartsWith) String() string {
	return "startswith(" + n.Path + "," + quote(n.Prefix) + ")"
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func formatLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return "datetime'" + v.UTC().Format(time.RFC3339Nano) + "'"
	}
	return "?"
}

// Walk calls fn for n and, while fn returns true, for each of its operands,
// depth first, left to right.
func Walk(n Node, fn func(Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch n := n.(type) {
	case *And:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case *Or:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case *Not:
		Walk(n.X, fn)
	}
}

// Conjuncts splits a chain of "and" at the top of n into its terms, left to
// right; any other node is a single term. A store can push down the terms it
// understands and evaluate the rest.
func Conjuncts(n Node) []Node {
	if n == nil {
		return nil
	}
	a, ok := n.(*And)
	if !ok {
		return []Node{n}
	}
	return append(Conjuncts(a.Left), Conjuncts(a.Right)...)
}

// Filter is a parsed $filter. A nil *Filter, the result of parsing an empty
// $filter, matches everything.
type Filter struct {
	// Root is the expression tree.
	Root Node
}

// String prints the filter in canonical $filter syntax: keywords lowercase,
// one space between tokens, parentheses around nested and/or, datetime
// literals in UTC. Parsing it gives the same tree.
func (f *Filter) String() string {
	if f == nil || f.Root == nil {
		return ""
	}
	return f.Root.String()
}

// EqualityConjunct returns the literal of the first top-level conjunct of the
// form "path eq literal" (not null), such as state eq 'active', so that a
// store can narrow its query by it. ok is false when the filter has none: for
// example when the comparison is inside an "or" or a "not". For an Enum
// property the literal is as the client wrote it; compare it
// case-insensitively.
func (f *Filter) EqualityConjunct(path string) (value any, ok bool) {
	if f == nil {
		return nil, false
	}
	for _, term := range Conjuncts(f.Root) {
		if c, isCmp := term.(*Comparison); isCmp && c.Path == path && c.Op == Eq && c.Value != nil {
			return c.Value, true
		}
	}
	return nil, false
}
