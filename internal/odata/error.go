package odata

import "fmt"

// Error is a query option that cannot be used: bad syntax, an unknown
// property or a type mismatch. The HTTP layer answers it with 400
// InvalidQueryParameterValue, naming Param.
type Error struct {
	// Param is the query parameter: "$filter", "$select" or "$expand".
	Param string
	// Pos is the 1-based byte position of the offending token in the
	// parameter value; 0 when the error is about the whole value.
	Pos int
	// Token is the offending token as written, or "" at the end of input.
	Token string
	// Msg says what is wrong and what is expected.
	Msg string
}

// Error implements the error interface.
func (e *Error) Error() string {
	switch {
	case e.Pos == 0:
		return fmt.Sprintf("invalid %s: %s", e.Param, e.Msg)
	case e.Token == "":
		return fmt.Sprintf("invalid %s at position %d (end of input): %s", e.Param, e.Pos, e.Msg)
	default:
		return fmt.Sprintf("invalid %s at position %d near %q: %s", e.Param, e.Pos, e.Token, e.Msg)
	}
}
