package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

const jsonContentType = "application/json;odata=minimalmetadata"

func metadataURL(r *http.Request, set string) string {
	return info(r).base + "/$metadata#" + set
}

// errorBody renders a BatchError body as the service does, with the request
// ID and time appended to the message.
func errorBody(r *http.Request, e *service.Error) []byte {
	ri := info(r)
	be := api.BatchError{
		ODataMetadata: metadataURL(r, "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"),
		Code:          e.Code,
		Message: &api.ErrorMessage{Lang: "en-US",
			Value: fmt.Sprintf("%s\nRequestId:%s\nTime:%s", e.Message, ri.requestID, time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"))},
		Values: e.Values,
	}
	b, _ := json.Marshal(be)
	return b
}

// writeError writes err as a Batch error with the status of its code
// (statusOf), or the status a *statusError names; service.ErrNotModified
// is 304 with no body. Errors that are not *service.Error become 500
// InternalError without leaking their text.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, service.ErrNotModified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var se *service.Error
	status := 0
	var ste *statusError
	if errors.As(err, &ste) {
		se, status = ste.err, ste.status
	} else if !errors.As(service.AsError(err), &se) {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			se = tooLarge()
		case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
			se = &service.Error{Code: api.CodeOperationTimedOut,
				Message: "The operation could not be completed within the permitted time."}
		default:
			se = &service.Error{Code: api.CodeInternalError,
				Message: "Server encountered an internal error. Please try again after some time."}
			if s := serverFrom(w); s != nil {
				s.Log.Error("internal error", "method", r.Method, "path", r.URL.EscapedPath(), "err", err, "request_id", info(r).requestID)
			}
		}
	}
	if status == 0 {
		status = statusOf(se.Code)
	}
	if se.Err != nil {
		if s := serverFrom(w); s != nil {
			s.Log.Warn("request failed", "code", se.Code, "method", r.Method, "path", r.URL.EscapedPath(), "err", se.Err, "request_id", info(r).requestID)
		}
	}
	if status == http.StatusServiceUnavailable {
		// A hint to clients' retry policies (the Azure SDKs honour it).
		w.Header().Set("Retry-After", "1")
	}
	body := errorBody(r, se)
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func serverFrom(w http.ResponseWriter) *Server {
	if sw, ok := w.(*statusWriter); ok {
		return sw.srv
	}
	return nil
}

// entityJSON marshals v, keeps only the selected top-level properties when
// sel is non-nil, and prepends odata.metadata when meta is non-empty.
func entityJSON(v any, sel map[string]bool, meta string) ([]byte, error) {
	b, err := api.Marshal(v)
	if err != nil {
		return nil, err
	}
	if sel != nil {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		for k := range m {
			if !sel[k] {
				delete(m, k)
			}
		}
		if b, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	if meta == "" {
		return b, nil
	}
	mb, _ := json.Marshal(meta)
	out := make([]byte, 0, len(b)+len(mb)+20)
	out = append(out, `{"odata.metadata":`...)
	out = append(out, mb...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, b[1:]...)
	return out, nil
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeEntity writes one entity with its ETag and Last-Modified headers.
func writeEntity(w http.ResponseWriter, r *http.Request, v any, etag string, lm *time.Time, set string, sel map[string]bool) {
	body, err := entityJSON(v, sel, metadataURL(r, set+"/@Element"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, etag, lm, "")
	writeBody(w, http.StatusOK, body)
}

func setEntityHeaders(w http.ResponseWriter, etag string, lm *time.Time, dataServiceID string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if lm != nil {
		w.Header().Set("Last-Modified", lm.UTC().Format(http.TimeFormat))
	}
	if dataServiceID != "" {
		w.Header().Set("DataServiceId", dataServiceID)
	}
}

// writeList writes a list page with its odata.nextLink.
func writeList[T any](w http.ResponseWriter, r *http.Request, set string, items []T, next string, sel map[string]bool) {
	var b strings.Builder
	mb, _ := json.Marshal(metadataURL(r, set))
	b.WriteString(`{"odata.metadata":`)
	b.Write(mb)
	b.WriteString(`,"value":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		eb, err := entityJSON(it, sel, "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		b.Write(eb)
	}
	b.WriteByte(']')
	if next != "" {
		nb, _ := json.Marshal(nextLink(r, next))
		b.WriteString(`,"odata.nextLink":`)
		b.Write(nb)
	}
	b.WriteByte('}')
	writeBody(w, http.StatusOK, []byte(b.String()))
}

// nextLink is the absolute URL of the next page: the request's own query
// with $skiptoken replaced.
func nextLink(r *http.Request, token string) string {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, "$skiptoken") || strings.EqualFold(k, "timeout") {
			continue
		}
		q[k] = v
	}
	q.Set("$skiptoken", token)
	return info(r).base + r.URL.EscapedPath() + "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}

// decodeBody decodes a JSON request body into v. Unknown properties are
// refused when strict is set; the error names what to fix.
func decodeBody(r *http.Request, v any, strict bool) error {
	if r.Body == nil {
		return invalidBody("The request body is missing.")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return invalidBody("The request body could not be read.")
	}
	return decodeJSON(data, v, strict)
}

func decodeJSON(data []byte, v any, strict bool) error {
	trimmed := strings.TrimSpace(string(data))
	if len(trimmed) == 0 {
		return invalidBody("The request body is empty; a JSON object is required.")
	}
	// Every Batch request body is a JSON object; null, arrays and scalars
	// would otherwise decode as "no properties" and change state.
	if trimmed[0] != '{' {
		return invalidBody("The request body must be a JSON object ({...}), not null, an array or a scalar.")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return invalidBody(describeJSONError(err, data, v))
	}
	if dec.More() {
		return invalidBody("The request body has data after the JSON value.")
	}
	return nil
}

func describeJSONError(err error, data []byte, v any) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) {
		return fmt.Sprintf("The request body is not valid JSON: %v (at byte %d).", se, se.Offset)
	}
	if errors.As(err, &te) {
		field := failingProperty(data, reflect.TypeOf(v))
		if field == "" {
			field = te.Field
		}
		if field == "" {
			field = "(body)"
		}
		return fmt.Sprintf("The property %s has a value of the wrong type: expected %s, got JSON %s.", field, te.Type, te.Value)
	}
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("The request body contains a property the Batch API does not define: %s. Check its spelling and case.",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "The request body ends before the JSON value is complete."
	}
	if field := failingProperty(data, reflect.TypeOf(v)); field != "" {
		// A value's own parser (a duration, say) refused it.
		return fmt.Sprintf("The property %s has an invalid value: %v.", field, err)
	}
	return "The request body is not valid: " + err.Error()
}

func invalidBody(reason string) *service.Error {
	return &service.Error{Code: api.CodeInvalidRequestBody,
		Message: "The specified Request Body is not syntactically valid. " + reason,
		Values:  []api.BatchErrorDetail{{Key: "Reason", Value: reason}}}
}

// failingProperty finds the JSON path (e.g. "constraints.maxWallClockTime")
// of the first property of data whose value does not decode into its field
// of t, by decoding field by field. It returns "" if none is found. It is
// only called after a decode failed, so its cost does not matter.
func failingProperty(data []byte, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return ""
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			raw := obj[name]
			f, ok := jsonField(t, name)
			if !ok || json.Unmarshal(raw, reflect.New(f.Type).Interface()) == nil {
				continue
			}
			if sub := failingProperty(raw, f.Type); sub != "" {
				if strings.HasPrefix(sub, "[") {
					return name + sub
				}
				return name + "." + sub
			}
			return name
		}
	case reflect.Slice:
		var items []json.RawMessage
		if t.Elem().Kind() == reflect.Uint8 || json.Unmarshal(data, &items) != nil {
			return ""
		}
		for i, raw := range items {
			if json.Unmarshal(raw, reflect.New(t.Elem()).Interface()) == nil {
				continue
			}
			sub := failingProperty(raw, t.Elem())
			if sub == "" {
				return fmt.Sprintf("[%d]", i)
			}
			if strings.HasPrefix(sub, "[") {
				return fmt.Sprintf("[%d]%s", i, sub)
			}
			return fmt.Sprintf("[%d].%s", i, sub)
		}
	}
	return ""
}

// jsonField finds the struct field that encoding/json decodes name into
// (exact tag match first, then case-insensitive), searching embedded
// structs.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
		if !found && strings.EqualFold(tag, name) {
			fold, found = f, true
		}
	}
	return fold, found
}
