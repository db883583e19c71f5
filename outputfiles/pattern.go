package outputfiles

import (
	"fmt"
	"path"
	"strings"
)

// Pattern is a filePattern resolved against a task's working directory: the
// pure first step of planning.
type Pattern struct {
	// Original is the filePattern as given.
	Original string
	// Expanded is Original after $VAR / ${VAR} expansion.
	Expanded string
	// Full is the absolute, cleaned pattern ("/" separators).
	Full string
	// Base is the absolute directory holding the pattern's first wildcard
	// segment (with no wildcard: the file's directory). Blob names under a
	// wildcard pattern are file paths relative to Base.
	Base string
	// Segments are the segments of Full after Base.
	Segments []string
	// Wildcard reports whether the pattern has any of * ? [ .
	Wildcard bool
	// Unset lists variables referenced by the pattern but not in the
	// environment; they are left in the pattern literally.
	Unset []string
}

// ParsePattern expands env variables in pattern and resolves it against wd
// (an absolute directory): relative patterns are relative to wd, so
// "../std*.txt" names the task directory; absolute patterns stay absolute;
// "." and ".." segments are resolved lexically. Backslash is an ordinary
// character, as on Linux Azure Batch nodes.
func ParsePattern(pattern, wd string, env map[string]string) (Pattern, error) {
	p := Pattern{Original: pattern}
	if pattern == "" {
		return p, fmt.Errorf("empty file pattern")
	}
	if !path.IsAbs(wd) {
		return p, fmt.Errorf("working directory %q is not absolute", wd)
	}
	p.Expanded, p.Unset = expandEnv(pattern, env)
	full := p.Expanded
	if !path.IsAbs(full) {
		full = path.Join(wd, full)
	}
	p.Full = path.Clean(full)
	segs := strings.Split(strings.TrimPrefix(p.Full, "/"), "/")
	first := -1
	for i, s := range segs {
		if hasMeta(s) {
			if err := checkSegment(s); err != nil {
				return p, fmt.Errorf("file pattern %q: %w", pattern, err)
			}
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		first = len(segs) - 1
	} else {
		p.Wildcard = true
	}
	p.Base = "/" + strings.Join(segs[:first], "/")
	p.Segments = segs[first:]
	return p, nil
}

// expandEnv replaces $NAME and ${NAME} (NAME = [A-Za-z_][A-Za-z0-9_]*) with
// values from env. A variable that is not set is left as written and
// reported, so a typo cannot turn "$OUTDIR/x" into the absolute "/x". A "$"
// not followed by a name is literal.
func expandEnv(s string, env map[string]string) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var unset []string
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		name, width := "", 0
		if i+1 < len(s) && s[i+1] == '{' {
			if end := strings.IndexByte(s[i+2:], '}'); end > 0 && isName(s[i+2:i+2+end]) {
				name, width = s[i+2:i+2+end], end+3
			}
		} else {
			j := i + 1
			for j < len(s) && isNameByte(s[j], j == i+1) {
				j++
			}
			if j > i+1 {
				name, width = s[i+1:j], j-i
			}
		}
		if name == "" {
			b.WriteByte('$')
			i++
			continue
		}
		if v, ok := env[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+width])
			unset = append(unset, name)
		}
		i += width
	}
	return b.String(), unset
}

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || !first && c >= '0' && c <= '9'
}

// hasMeta reports whether a segment contains a wildcard character.
func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// checkSegment reports a malformed character class.
func checkSegment(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '[' {
			continue
		}
		end := classEnd(s, i)
		if end < 0 {
			return fmt.Errorf("unterminated character class in %q (to match a literal '[', write [[])", s)
		}
		i = end
	}
	return nil
}

// classEnd returns the index of the ']' closing the class opened at s[i],
// or -1. A ']' right after '[' or '[!' / '[^' is a member, not the end.
func classEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && (s[j] == '!' || s[j] == '^') {
		j++
	}
	if j < len(s) && s[j] == ']' {
		j++
	}
	for ; j < len(s); j++ {
		if s[j] == ']' {
			return j
		}
	}
	return -1
}

// MatchSegment reports whether name matches the single-segment pattern pat:
// '*' matches any run of characters, '?' one character, "[abc]" one of a set,
// "[a-c]" a range, "[!abc]" or "[^abc]" anything else. There are no escapes
// (write "[*]" for a literal '*'), and a name starting with '.' matches only
// a pattern starting with '.'.
func MatchSegment(pat, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pat, ".") {
		return false
	}
	return globMatch(pat, name)
}

func globMatch(pat, name string) bool {
	px, nx := 0, 0
	starPx, starNx := -1, -1
	for px < len(pat) || nx < len(name) {
		if px < len(pat) {
			switch pat[px] {
			case '*':
				starPx, starNx = px, nx
				px++
				continue
			case '?':
				if nx < len(name) {
					_, w := decodeRune(name[nx:])
					px++
					nx += w
					continue
				}
			case '[':
				if nx < len(name) {
					if end := classEnd(pat, px); end > 0 {
						r, w := decodeRune(name[nx:])
						if matchClass(pat[px+1:end], r) {
							px = end + 1
							nx += w
							continue
						}
					} else if name[nx] == '[' { // unterminated class: literal '['
						px++
						nx++
						continue
					}
				}
			default:
				if nx < len(name) && name[nx] == pat[px] {
					px++
					nx++
					continue
				}
			}
		}
		// Mismatch: let the last '*' absorb one more character and retry.
		if starPx >= 0 && starNx < len(name) {
			_, w := decodeRune(name[starNx:])
			starNx += w
			px, nx = starPx+1, starNx
			continue
		}
		return false
	}
	return true
}

// matchClass matches r against a class body (between the brackets).
func matchClass(class string, r rune) bool {
	negate := false
	if class != "" && (class[0] == '!' || class[0] == '^') {
		negate, class = true, class[1:]
	}
	matched := false
	for i := 0; i < len(class); {
		lo, w := decodeRune(class[i:])
		i += w
		hi := lo
		if i+1 < len(class) && class[i] == '-' {
			h, w2 := decodeRune(class[i+1:])
			hi = h
			i += 1 + w2
		}
		if lo <= r && r <= hi {
			matched = true
		}
	}
	return matched != negate
}
