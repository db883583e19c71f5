// Package cmdline splits a Batch task command line into an argv without a
// shell, as an Azure Batch Linux node does: the command line is never given
// to /bin/sh, so users who want pipes, redirection or $VAR expansion write
// `/bin/sh -c '…'` themselves.
//
// Split applies the POSIX shell's word rules (IEEE Std 1003.1, "Token
// Recognition" and "Quoting") and nothing else:
//
//   - Words are separated by unquoted blanks: space, tab, newline, carriage
//     return. Runs of blanks count as one separator; leading and trailing
//     blanks are ignored.
//   - Single quotes preserve every character up to the next single quote; a
//     backslash inside single quotes is literal.
//   - Inside double quotes a backslash escapes only $ ` " \ and newline
//     (backslash-newline is removed entirely); before any other character
//     the backslash is kept. Nothing else is special: no expansion.
//   - Outside quotes a backslash makes the next character literal;
//     backslash-newline is a line continuation and is removed.
//   - Quoted and unquoted parts concatenate into one word (a'b'"c" → abc),
//     and an empty quoted string (a pair of quotes) is an empty argument.
//   - No variable, command or arithmetic expansion, no globbing, no tilde
//     expansion, no comments (# is an ordinary character), no operators
//     (| ; & < > are ordinary characters).
//   - An unterminated quote or a trailing lone backslash is an error
//     (*SyntaxError); the agent fails such a task with CommandLaunchFailed.
//
// github.com/google/shlex (already in go.mod) was considered and rejected:
// inside double quotes it drops the backslash before every character
// ("a\b" → ab, POSIX keeps a\b), it treats backslash-newline as a newline
// instead of a continuation, and it strips "#…" as a comment, which would
// silently truncate arguments such as URLs with fragments.
package cmdline

import (
	"fmt"
	"strings"
)

// SyntaxError reports a command line that cannot be split: an unterminated
// quote or a trailing escape. Offset is the byte offset of the construct
// that was left open.
type SyntaxError struct {
	Offset int
	Reason string
}

// Error says where the command line is malformed and why.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("command line syntax error at byte %d: %s", e.Offset, e.Reason)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Split turns a command line into its argv following the rules in the
// package documentation. A command line of only blanks yields an empty,
// non-nil slice and no error; callers decide whether that is acceptable.
func Split(s string) ([]string, error) {
	args := []string{}
	var word strings.Builder
	inWord := false // a word has started (possibly empty, from '' or "")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isBlank(c):
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, &SyntaxError{Offset: i, Reason: "trailing backslash escapes nothing"}
			}
			i++
			if s[i] == '\n' {
				continue // line continuation: neither starts nor ends a word
			}
			word.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, &SyntaxError{Offset: i, Reason: "unterminated single quote"}
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			start := i
			closed := false
			for i++; i < len(s); i++ {
				d := s[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(s) {
					switch n := s[i+1]; n {
					case '$', '`', '"', '\\':
						word.WriteByte(n)
						i++
						continue
					case '\n':
						i++
						continue
					}
				}
				word.WriteByte(d)
			}
			if !closed {
				return nil, &SyntaxError{Offset: start, Reason: "unterminated double quote"}
			}
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, word.String())
	}
	return args, nil
}

// Quote returns s quoted so that Split turns it back into exactly s. It is
// the inverse used by tests and by callers that build command lines.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./=:,+@%", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument with Quote and joins them with spaces.
func Join(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
