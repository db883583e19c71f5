package odata

import "strings"

type tokKind int

const (
	tokEOF      tokKind = iota
	tokIdent            // name or property path; keywords are identifiers too
	tokString           // 'quoted', val holds the unescaped text
	tokNumber           // integer or bare ISO-8601 date-time, val holds the text
	tokDateTime         // datetime'…' or datetimeoffset'…', val holds the inner text
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	pos  int    // 0-based byte offset in the input
	text string // as written
	val  string
}

// lexer turns a $filter value into tokens, one at a time.
type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c|0x20 && c|0x20 <= 'z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || '0' <= c && c <= '9' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// isLiteralChar reports whether c can continue an integer or a bare
// date-time such as 2020-01-01T00:00:00.5+01:00.
func isLiteralChar(c byte) bool {
	return isIdentChar(c) || c == ':' || c == '.' || c == '-' || c == '+'
}

func (l *lexer) errorf(pos int, text, format string, args ...any) *Error {
	e := errorf(pos, format, args...)
	e.Token = text
	return e
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, pos: start, text: "("}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, pos: start, text: ")"}, nil
	case c == ',':
		l.pos++
		return token{kind: tokComma, pos: start, text: ","}, nil
	case c == '\'':
		val, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		return token{kind: tokString, pos: start, text: l.src[start:l.pos], val: val}, nil
	case isIdentStart(c):
		for l.pos < len(l.src) {
			c := l.src[l.pos]
			if isIdentChar(c) {
				l.pos++
				continue
			}
			if c == '/' {
				if l.pos+1 >= len(l.src) || !isIdentStart(l.src[l.pos+1]) {
					return token{}, l.errorf(start, l.src[start:l.pos+1], "a property path must not end with '/' or contain an empty segment")
				}
				l.pos++
				continue
			}
			break
		}
		text := l.src[start:l.pos]
		if l.pos < len(l.src) && l.src[l.pos] == '\'' &&
			(strings.EqualFold(text, "datetime") || strings.EqualFold(text, "datetimeoffset")) {
			val, err := l.quoted()
			if err != nil {
				return token{}, err
			}
			return token{kind: tokDateTime, pos: start, text: l.src[start:l.pos], val: val}, nil
		}
		return token{kind: tokIdent, pos: start, text: text, val: text}, nil
	case isDigit(c) || c == '-' && start+1 < len(l.src) && isDigit(l.src[start+1]):
		l.pos++
		for l.pos < len(l.src) && isLiteralChar(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		return token{kind: tokNumber, pos: start, text: text, val: text}, nil
	}
	text := l.src[start : start+1]
	if c >= 0x80 {
		// Quote the whole UTF-8 character, not one byte of it.
		end := start + 1
		for end < len(l.src) && l.src[end]&0xC0 == 0x80 {
			end++
		}
		text = l.src[start:end]
	}
	return token{}, l.errorf(start, text, "unexpected character; expected a property, a literal, a parenthesis or an operator")
}

// quoted reads a quoted string at l.pos, in which two quotes stand for one.
func (l *lexer) quoted() (string, error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		l.pos++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if l.pos < len(l.src) && l.src[l.pos] == '\'' {
			b.WriteByte('\'')
			l.pos++
			continue
		}
		return b.String(), nil
	}
	return "", l.errorf(start, l.src[start:], "unterminated string literal; close it with ' (write '' for a quote inside)")
}
