package api

import "fmt"

// PropertyError says which property of a request body is missing or invalid.
// The HTTP layer turns it into a 400 BatchError with Code and the values
// PropertyName, PropertyValue (when there is one) and Reason.
type PropertyError struct {
	// Code is CodeMissingRequiredProperty, CodeInvalidPropertyValue or
	// CodeUnsupportedProperty.
	Code string
	// Property is the JSON path of the property, e.g.
	// "outputFiles[0].destination.container.containerUrl".
	Property string
	// Value is the offending value, with any secret removed ("" if none).
	Value string
	// Reason says what to change, in a sentence.
	Reason string
}

func (e *PropertyError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s: %s=%q: %s", e.Code, e.Property, e.Value, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Code, e.Property, e.Reason)
}

// Missing returns a MissingRequiredProperty error for property.
func Missing(property string) *PropertyError {
	return &PropertyError{Code: CodeMissingRequiredProperty, Property: property,
		Reason: "The property " + property + " is required."}
}

// Invalid returns an InvalidPropertyValue error for property.
func Invalid(property, value, reason string) *PropertyError {
	return &PropertyError{Code: CodeInvalidPropertyValue, Property: property, Value: value, Reason: reason}
}
