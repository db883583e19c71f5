// Package autoscale implements Azure Batch's autoscale formula language:
// parsing a formula, evaluating it against a pool's service variables and
// their sampled history, and rendering the outcome as Azure's AutoScaleRun
// results string ("$TargetDedicatedNodes=3;$NodeDeallocationOption=requeue;…").
//
// The grammar is Azure's (learn.microsoft.com/azure/batch/batch-automatic-scaling):
// statements "name = expression;", user variables with or without "$",
// doubles, doubleVecs, strings, timestamps and time intervals, the
// arithmetic, comparison and logical operators, "?:", the built-in
// functions and the sampled-variable methods (GetSample, GetSamplePercent,
// GetSamplePeriod, Count, HistoricBeginTime). No parsing library knows
// this grammar, and it is small, so the lexer and the recursive-descent
// parser are written here by hand; every error names the line and column.
//
// The package is pure: it does no I/O and reads no clock; the caller
// passes the time, the variables and the samples in an Env. Work is
// bounded: the formula's length and statement count are checked before
// parsing, nesting depth while parsing, and evaluation runs on a step
// budget, so a hostile formula cannot hang or crash the server.
package autoscale

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a formula, as Azure documents them (8 KB, 100 statements), and
// of the parser's nesting, which Azure does not document.
const (
	MaxFormulaLength = 8192
	MaxStatements    = 100
	maxDepth         = 100
)

// Pos is a position in a formula: 1-based line and column (in runes).
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("Line %d, Col %d", p.Line, p.Col) }

type tokKind int

const (
	tEOF tokKind = iota
	tNum
	tStr
	tIdent // name, $name
	tOp    // operators and punctuation
)

type token struct {
	kind tokKind
	text string // identifier (with any $), operator, or decoded string
	num  float64
	pos  Pos
}

// lex splits a formula into tokens, dropping white space and // and /* */
// comments.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n && i < len(src); k++ {
			r, size := utf8.DecodeRuneInString(src[i:])
			i += size
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
	}
	for i < len(src) {
		r, _ := utf8.DecodeRuneInString(src[i:])
		pos := Pos{line, col}
		switch {
		case r == utf8.RuneError:
			return nil, syntaxErr(pos, "the formula is not valid UTF-8")
		case unicode.IsSpace(r):
			adv(1)
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, syntaxErr(pos, "unterminated comment")
			}
			adv(utf8.RuneCountInString(src[i : i+2+end+2]))
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			f, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, syntaxErr(pos, "malformed number %q", src[i:j])
			}
			toks = append(toks, token{kind: tNum, num: f, text: src[i:j], pos: pos})
			adv(j - i)
		case r == '$' || r == '_' || unicode.IsLetter(r):
			j := i + 1
			for j < len(src) {
				r2, size := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += size
			}
			if src[i:j] == "$" {
				return nil, syntaxErr(pos, "a variable name must follow '$'")
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: pos})
			adv(utf8.RuneCountInString(src[i:j]))
		case r == '"' || r == '\'':
			j := i + 1
			var sb strings.Builder
			closed := false
			for j < len(src) {
				if src[j] == byte(r) {
					closed = true
					j++
					break
				}
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				if src[j] == '\n' {
					break
				}
				sb.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, syntaxErr(pos, "unterminated string")
			}
			toks = append(toks, token{kind: tStr, text: sb.String(), pos: pos})
			adv(utf8.RuneCountInString(src[i:j]))
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "<", ">", "!", "?", ":", "(", ")", ",", ";", "=", ".", "[", "]"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, syntaxErr(pos, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: tOp, text: op, pos: pos})
			adv(len(op))
		}
	}
	return append(toks, token{kind: tEOF, pos: Pos{line, col}}), nil
}
