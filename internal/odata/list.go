package odata

import (
	"slices"
	"strconv"
	"strings"
)

// ParseSelect parses a $select value: comma-separated property names,
// trimmed, checked against allowed (exactly, or failing that
// case-insensitively) and returned in allowed's spelling, without duplicates,
// in the order given. An empty value gives nil: no selection.
func ParseSelect(value string, allowed []string) ([]string, error) {
	return parseList("$select", value, allowed)
}

// ParseExpand parses an $expand value the way ParseSelect parses $select.
func ParseExpand(value string, allowed []string) ([]string, error) {
	return parseList("$expand", value, allowed)
}

func parseList(param, value string, allowed []string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var out []string
	pos := 0
	for {
		item, rest, more := strings.Cut(value[pos:], ",")
		name := strings.TrimSpace(item)
		at := pos + strings.Index(item, name) // offset of the trimmed name
		if name == "" {
			return nil, &Error{Param: param, Pos: pos + 1, Msg: "empty property name; remove the extra comma"}
		}
		canon, ok := findName(name, allowed)
		if !ok {
			return nil, &Error{Param: param, Pos: at + 1, Token: name,
				Msg: "unknown property " + strconv.Quote(name) + "; allowed: " + strings.Join(allowed, ", ")}
		}
		if !slices.Contains(out, canon) {
			out = append(out, canon)
		}
		if !more {
			return out, nil
		}
		pos = len(value) - len(rest)
	}
}

func findName(name string, allowed []string) (string, bool) {
	for _, a := range allowed {
		if a == name {
			return a, true
		}
	}
	found, n := "", 0
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			found, n = a, n+1
		}
	}
	return found, n == 1
}
