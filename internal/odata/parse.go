package odata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDepth bounds nesting of parentheses and "not", so that a hostile
// $filter cannot exhaust the stack.
const maxDepth = 100

func errorf(pos int, format string, args ...any) *Error {
	return &Error{Param: "$filter", Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// tokErr is an error at token t.
func tokErr(t token, format string, args ...any) *Error {
	e := errorf(t.pos, format, args...)
	e.Token = t.text
	return e
}

// ParseFilter parses a $filter value against schema. An empty (or blank)
// value gives a nil *Filter, which matches everything. Any other error is an
// [*Error].
func ParseFilter(expr string, schema Schema) (*Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	p := &parser{lex: lexer{src: expr}, schema: schema}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		if p.tok.kind == tokRParen {
			return nil, tokErr(p.tok, "unbalanced ')'")
		}
		return nil, tokErr(p.tok, "expected 'and', 'or' or the end of the filter")
	}
	return &Filter{Root: root}, nil
}

type parser struct {
	lex    lexer
	tok    token // current token
	schema Schema
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// keyword reports whether the current token is the identifier kw, in any case.
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tokIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) expect(kind tokKind, what string) error {
	if p.tok.kind != kind {
		return tokErr(p.tok, "expected %s", what)
	}
	return p.advance()
}

func (p *parser) parseOr(depth int) (Node, error) {
	left, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		left = &Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd(depth int) (Node, error) {
	left, err := p.parseUnary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.parseUnary(depth)
		if err != nil {
			return nil, err
		}
		left = &And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary(depth int) (Node, error) {
	if depth > maxDepth {
		return nil, tokErr(p.tok, "the filter nests parentheses or 'not' more than %d deep", maxDepth)
	}
	if p.keyword("not") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	return p.parsePrimary(depth)
}

func comparisonOp(t token) (Op, bool) {
	if t.kind != tokIdent {
		return 0, false
	}
	for op := Eq; op <= Le; op++ {
		if strings.EqualFold(t.text, opNames[op]) {
			return op, true
		}
	}
	return 0, false
}

func isLiteralKeyword(t token) bool {
	return t.kind == tokIdent && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false") || strings.EqualFold(t.text, "null"))
}

func isReserved(t token) bool {
	if _, ok := comparisonOp(t); ok {
		return true
	}
	for _, kw := range [...]string{"and", "or", "not"} {
		if strings.EqualFold(t.text, kw) {
			return true
		}
	}
	return false
}

func (p *parser) parsePrimary(depth int) (Node, error) {
	t := p.tok
	switch t.kind {
	case tokLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, tokErr(p.tok, "expected ')' to close the '(' at position %d", t.pos+1)
		}
		return x, p.advance()
	case tokEOF:
		return nil, tokErr(t, "expected a comparison such as state eq 'active'")
	case tokRParen, tokComma:
		return nil, tokErr(t, "expected a comparison such as state eq 'active'")
	case tokIdent:
		if isReserved(t) {
			return nil, tokErr(t, "expected a comparison such as state eq 'active', not the keyword %q", strings.ToLower(t.text))
		}
		if !isLiteralKeyword(t) {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind == tokLParen {
				return p.parseCall(t)
			}
			return p.parseComparison(t)
		}
	}
	// A literal first: literal op path.
	lit := t
	if err := p.advance(); err != nil {
		return nil, err
	}
	op, ok := comparisonOp(p.tok)
	if !ok {
		return nil, tokErr(p.tok, "expected a comparison operator (eq, ne, gt, ge, lt, le) after the literal %s", lit.text)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	prop := p.tok
	if prop.kind != tokIdent || isLiteralKeyword(prop) || isReserved(prop) {
		return nil, tokErr(prop, "expected a property to compare the literal %s with; a comparison needs a property on one side and a literal on the other", lit.text)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p.comparison(prop, op.flip(), lit)
}

// parseComparison parses "op literal" after the property path, or accepts a
// Bool property standing alone.
func (p *parser) parseComparison(prop token) (Node, error) {
	op, ok := comparisonOp(p.tok)
	if !ok {
		path, typ, known := p.schema.lookup(prop.text)
		if known && typ == Bool {
			return &Comparison{Path: path, Type: Bool, Op: Eq, Value: true}, nil
		}
		if !known {
			return nil, p.unknown(prop)
		}
		return nil, tokErr(p.tok, "expected a comparison operator (eq, ne, gt, ge, lt, le) after %s", path)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	lit := p.tok
	switch lit.kind {
	case tokString, tokNumber, tokDateTime:
	case tokIdent:
		if !isLiteralKeyword(lit) {
			return nil, tokErr(lit, "expected a literal after %s; a comparison needs a property on one side and a literal on the other", op)
		}
	default:
		return nil, tokErr(lit, "expected a literal after %s", op)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p.comparison(prop, op, lit)
}

func (p *parser) unknown(prop token) *Error {
	return tokErr(prop, "unknown property %q; the properties that can be filtered on are: %s", prop.text, strings.Join(p.schema.names(), ", "))
}

// comparison type-checks prop op lit and builds the node.
func (p *parser) comparison(prop token, op Op, lit token) (Node, error) {
	path, typ, ok := p.schema.lookup(prop.text)
	if !ok {
		return nil, p.unknown(prop)
	}
	if lit.kind == tokIdent && strings.EqualFold(lit.text, "null") {
		if op != Eq && op != Ne {
			return nil, tokErr(lit, "null can only be compared with eq or ne")
		}
		return &Comparison{Path: path, Type: typ, Op: op, Value: nil}, nil
	}
	if (typ == Enum || typ == Bool) && op != Eq && op != Ne {
		return nil, tokErr(prop, "%s is %s property; only eq and ne apply to it", path, article(typ))
	}
	mismatch := func() (Node, error) {
		return nil, tokErr(lit, "%s is %s property; compare it with %s", path, article(typ), example(typ))
	}
	var v any
	switch typ {
	case String, Enum:
		if lit.kind != tokString {
			return mismatch()
		}
		v = lit.val
	case Int:
		if lit.kind != tokNumber {
			return mismatch()
		}
		n, err := strconv.ParseInt(lit.val, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, tokErr(lit, "%s is out of range for a 64-bit integer", lit.text)
			}
			return mismatch()
		}
		v = n
	case DateTime:
		if lit.kind != tokNumber && lit.kind != tokDateTime && lit.kind != tokString {
			return mismatch()
		}
		t, ok := parseDateTime(lit.val)
		if !ok {
			return nil, tokErr(lit, "%s is not an ISO-8601 date-time; write it like datetime'2020-01-01T00:00:00Z'", lit.text)
		}
		v = t
	case Bool:
		if lit.kind != tokIdent {
			return mismatch()
		}
		v = strings.EqualFold(lit.text, "true")
	default:
		return nil, tokErr(prop, "%s has an invalid type in the schema", path)
	}
	return &Comparison{Path: path, Type: typ, Op: op, Value: v}, nil
}

// parseCall parses startswith(path,'prefix') [eq|ne true|false]; name has
// been read and the current token is '('.
func (p *parser) parseCall(name token) (Node, error) {
	if !strings.EqualFold(name.text, "startswith") {
		return nil, tokErr(name, "unknown function %q; the only function supported is startswith(property,'prefix')", name.text)
	}
	if err := p.advance(); err != nil { // '('
		return nil, err
	}
	prop := p.tok
	if prop.kind != tokIdent || isLiteralKeyword(prop) || isReserved(prop) {
		return nil, tokErr(prop, "expected a property as the first argument of startswith")
	}
	path, typ, ok := p.schema.lookup(prop.text)
	if !ok {
		return nil, p.unknown(prop)
	}
	if typ != String {
		return nil, tokErr(prop, "startswith applies to string properties; %s is %s property", path, article(typ))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tokComma, "',' between the arguments of startswith"); err != nil {
		return nil, err
	}
	prefix := p.tok
	if prefix.kind != tokString {
		return nil, tokErr(prefix, "expected a quoted string as the second argument of startswith")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tokRParen, "')' to close startswith("); err != nil {
		return nil, err
	}
	var n Node = &StartsWith{Path: path, Prefix: prefix.val}
	// startswith(…) eq true / ne false, as OData v3 clients write it.
	if op, ok := comparisonOp(p.tok); ok {
		opTok := p.tok
		if op != Eq && op != Ne {
			return nil, tokErr(opTok, "startswith(…) can only be compared with eq or ne")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		b := p.tok
		if b.kind != tokIdent || !(strings.EqualFold(b.text, "true") || strings.EqualFold(b.text, "false")) {
			return nil, tokErr(b, "startswith(…) can only be compared with true or false")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if strings.EqualFold(b.text, "true") != (op == Eq) {
			n = &Not{X: n}
		}
	}
	return n, nil
}

func article(t Type) string {
	switch t {
	case Enum, Int:
		return "an " + t.String()
	}
	return "a " + t.String()
}

func example(t Type) string {
	switch t {
	case String:
		return "a quoted string such as 'abc'"
	case Enum:
		return "a quoted string such as 'active'"
	case Int:
		return "an integer such as 0"
	case DateTime:
		return "a date-time such as datetime'2020-01-01T00:00:00Z'"
	case Bool:
		return "true or false"
	}
	return "a literal"
}

// dateTimeLayouts are the accepted ISO-8601 forms; those without a zone are
// read as UTC. Fractional seconds are accepted by every layout with seconds.
var dateTimeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
}

func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			// Keep the instant printable as a four-digit UTC year, so that
			// String output always parses again.
			if y := t.UTC().Year(); y < 0 || y > 9999 {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
