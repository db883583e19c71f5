package httpapi

import (
	"errors"
	"strings"
)

// entityKind names a listed entity type, for $filter and $select.
type entityKind int

const (
	kindPool entityKind = iota
	kindJob
	kindTask
	kindNode
)

func compileFilter(kind entityKind, expr string) (func(any) bool, string, error) {
	return nil, "", errors.New("$filter is not supported yet")
}

func parseSelect(kind entityKind, v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out, nil
}
