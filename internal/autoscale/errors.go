package autoscale

import "fmt"

// Error codes of a failed parse or evaluation. AutoScalingFormulaSyntaxError
// is the code the Batch service documents for a formula that does not
// parse; InsufficientSampleData is the code it reports in an AutoScaleRun
// when GetSample's samplePercent is not met. Azure documents no code for
// other evaluation failures; AutoScalingFormulaEvaluationError is ours
// (docs/compatibility.md).
const (
	CodeSyntaxError            = "AutoScalingFormulaSyntaxError"
	CodeInsufficientSampleData = "InsufficientSampleData"
	CodeEvaluationError        = "AutoScalingFormulaEvaluationError"
)

// Error is a formula that failed to parse or evaluate. Message is the
// summary Azure gives for the code; Detail says what went wrong where
// ("Line 9, Col 43: Insufficient data from data set: $PendingTasks wanted
// 70%, received 0%").
type Error struct {
	Code    string
	Message string
	Pos     Pos
	Detail  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

func syntaxErr(p Pos, format string, args ...any) *Error {
	return &Error{Code: CodeSyntaxError, Message: "The specified auto-scaling formula has a syntax error.", Pos: p,
		Detail: p.String() + ": " + fmt.Sprintf(format, args...)}
}

func evalErr(p Pos, format string, args ...any) *Error {
	return &Error{Code: CodeEvaluationError, Message: "Autoscale evaluation failed.", Pos: p,
		Detail: p.String() + ": " + fmt.Sprintf(format, args...)}
}

func sampleErr(p Pos, format string, args ...any) *Error {
	return &Error{Code: CodeInsufficientSampleData, Message: "Autoscale evaluation failed due to insufficient sample data", Pos: p,
		Detail: p.String() + ": " + fmt.Sprintf(format, args...)}
}
