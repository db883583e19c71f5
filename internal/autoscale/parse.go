package autoscale

import (
	"strings"
)

// expr is a node of a parsed expression.
type expr interface{ at() Pos }

type (
	numLit struct {
		p Pos
		v float64
	}
	strLit struct {
		p Pos
		s string
	}
	// ident is a variable or constant name as written (with any "$").
	ident struct {
		p    Pos
		name string
	}
	unary struct {
		p  Pos
		op string
		x  expr
	}
	binary struct {
		p    Pos
		op   string
		l, r expr
	}
	ternary struct {
		p       Pos
		c, a, b expr
	}
	// call is a built-in function call: name(args).
	call struct {
		p    Pos
		name string
		args []expr
	}
	// method is recv.name(args): a sampled variable's method.
	method struct {
		p    Pos
		recv expr
		name string
		args []expr
	}
	// member is recv.name: a timestamp's field.
	member struct {
		p    Pos
		recv expr
		name string
	}
)

func (e *numLit) at() Pos  { return e.p }
func (e *strLit) at() Pos  { return e.p }
func (e *ident) at() Pos   { return e.p }
func (e *unary) at() Pos   { return e.p }
func (e *binary) at() Pos  { return e.p }
func (e *ternary) at() Pos { return e.p }
func (e *call) at() Pos    { return e.p }
func (e *method) at() Pos  { return e.p }
func (e *member) at() Pos  { return e.p }

// statement is "target = x;" or, with no target, "x;" (e.g. "stop();").
type statement struct {
	p      Pos
	target string // variable name, canonical (see canonical); "" for none
	x      expr
}

// Formula is a parsed autoscale formula, ready to evaluate any number of
// times.
type Formula struct {
	stmts []statement
	// size is the number of expression nodes, which bounds evaluation work
	// together with the vectors' lengths.
	size int
}

// Parse checks a formula's length and syntax and returns it parsed. Errors
// are *Error with code AutoScalingFormulaSyntaxError and the position.
func Parse(src string) (*Formula, error) {
	if len(src) > MaxFormulaLength {
		return nil, syntaxErr(Pos{1, 1}, "the formula is %d bytes long; the most is %d", len(src), MaxFormulaLength)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f := &Formula{}
	for {
		for p.isOp(";") {
			p.next()
		}
		if p.peek().kind == tEOF {
			break
		}
		if len(f.stmts) == MaxStatements {
			return nil, syntaxErr(p.peek().pos, "the formula has more than %d statements", MaxStatements)
		}
		st, err := p.statement()
		if err != nil {
			return nil, err
		}
		f.stmts = append(f.stmts, st)
		if t := p.peek(); t.kind != tEOF && !p.isOp(";") {
			return nil, syntaxErr(t.pos, "expected ';' before %s", describe(t))
		}
	}
	if len(f.stmts) == 0 {
		return nil, syntaxErr(Pos{1, 1}, "the formula has no statement")
	}
	f.size = p.nodes
	return f, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
	nodes int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) isOp(op string) bool {
	t := p.toks[p.i]
	return t.kind == tOp && t.text == op
}

func (p *parser) expect(op string) (token, error) {
	t := p.peek()
	if t.kind != tOp || t.text != op {
		return t, syntaxErr(t.pos, "expected '%s' but found %s", op, describe(t))
	}
	return p.next(), nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the formula"
	case tStr:
		return "a string"
	case tNum:
		return "'" + t.text + "'"
	}
	return "'" + t.text + "'"
}

func (p *parser) statement() (statement, error) {
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "=" {
		name := canonical(t.text)
		if v, ok := serviceVars[name]; ok && !v.writable {
			return statement{}, syntaxErr(t.pos, "%s is read-only", v.name)
		}
		if _, ok := constants[t.text]; ok {
			return statement{}, syntaxErr(t.pos, "%s is a constant", t.text)
		}
		p.next()
		p.next()
		x, err := p.expr()
		if err != nil {
			return statement{}, err
		}
		return statement{p: t.pos, target: name, x: x}, nil
	}
	x, err := p.expr()
	if err != nil {
		return statement{}, err
	}
	return statement{p: t.pos, x: x}, nil
}

// Precedence, loosest first: ?:, ||, &&, == !=, < <= > >=, + -, * /,
// unary - !, then .member and .method() and primaries.
var binaryLevels = [][]string{{"||"}, {"&&"}, {"==", "!="}, {"<", "<=", ">", ">="}, {"+", "-"}, {"*", "/"}}

func (p *parser) expr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, syntaxErr(p.peek().pos, "the expression is nested more than %d deep", maxDepth)
	}
	c, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("?") {
		return c, nil
	}
	q := p.next()
	a, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(":"); err != nil {
		return nil, err
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.nodes++
	return &ternary{p: q.pos, c: c, a: a, b: b}, nil
}

func (p *parser) binary(level int) (expr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	l, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(binaryLevels[level], t.text) {
			return l, nil
		}
		p.next()
		r, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		p.nodes++
		l = &binary{p: t.pos, op: t.text, l: l, r: r}
	}
}

func contains(ops []string, op string) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func (p *parser) unary() (expr, error) {
	if t := p.peek(); t.kind == tOp && (t.text == "-" || t.text == "!" || t.text == "+") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, syntaxErr(t.pos, "the expression is nested more than %d deep", maxDepth)
		}
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		p.nodes++
		return &unary{p: t.pos, op: t.text, x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") {
		p.next()
		t := p.next()
		if t.kind != tIdent || strings.HasPrefix(t.text, "$") {
			return nil, syntaxErr(t.pos, "expected a method or field name after '.' but found %s", describe(t))
		}
		p.nodes++
		if p.isOp("(") {
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			x = &method{p: t.pos, recv: x, name: t.text, args: args}
			continue
		}
		x = &member{p: t.pos, recv: x, name: t.text}
	}
	return x, nil
}

func (p *parser) args() ([]expr, error) {
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	var args []expr
	if p.isOp(")") {
		p.next()
		return args, nil
	}
	for {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.isOp(",") {
			p.next()
			continue
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return args, nil
	}
}

func (p *parser) primary() (expr, error) {
	t := p.peek()
	p.nodes++
	switch t.kind {
	case tNum:
		p.next()
		return &numLit{p: t.pos, v: t.num}, nil
	case tStr:
		p.next()
		return &strLit{p: t.pos, s: t.text}, nil
	case tIdent:
		p.next()
		if p.isOp("(") {
			if strings.HasPrefix(t.text, "$") {
				return nil, syntaxErr(t.pos, "%s is a variable, not a function", t.text)
			}
			name := strings.ToLower(t.text)
			if _, ok := functions[name]; !ok {
				return nil, syntaxErr(t.pos, "unknown function %s", t.text)
			}
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			return &call{p: t.pos, name: name, args: args}, nil
		}
		return &ident{p: t.pos, name: t.text}, nil
	case tOp:
		if t.text == "(" {
			p.next()
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
	}
	return nil, syntaxErr(t.pos, "expected a value but found %s", describe(t))
}
