package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// conditions reads the If-* headers.
func conditions(r *http.Request) (service.Conditions, error) {
	c := service.Conditions{IfMatch: r.Header.Get("If-Match"), IfNoneMatch: r.Header.Get("If-None-Match")}
	for _, h := range []struct {
		name string
		dst  **time.Time
	}{{"If-Modified-Since", &c.IfModifiedSince}, {"If-Unmodified-Since", &c.IfUnmodifiedSince}} {
		v := r.Header.Get(h.name)
		if v == "" {
			continue
		}
		t, err := http.ParseTime(v)
		if err != nil {
			return c, &service.Error{Code: api.CodeInvalidHeaderValue,
				Message: "The value for one of the HTTP headers is not in the correct format: " + h.name + " must be an RFC 1123 date.",
				Values:  []api.BatchErrorDetail{{Key: "HeaderName", Value: h.name}, {Key: "HeaderValue", Value: v}}}
		}
		*h.dst = &t
	}
	return c, nil
}

// listQuery parses maxresults, $skiptoken, $filter and $select for a list
// of entity kind.
func listQuery(r *http.Request, kind entityKind) (store.Page, map[string]bool, error) {
	pg := store.Page{Max: 1000}
	if v, ok := queryGet(r, "maxresults"); ok {
		n, err := parseInt(v)
		if err != nil {
			return pg, nil, badQuery("maxresults", v, "maxresults must be a whole number from 1 to 1000.")
		}
		if n < 1 || n > 1000 {
			return pg, nil, &service.Error{Code: api.CodeOutOfRangeQueryParameterValue,
				Message: "maxresults must be from 1 to 1000.",
				Values:  []api.BatchErrorDetail{{Key: "QueryParameterName", Value: "maxresults"}, {Key: "QueryParameterValue", Value: v}}}
		}
		pg.Max = n
	}
	pg.Token, _ = queryGet(r, "$skiptoken")
	if f, ok := queryGet(r, "$filter"); ok && strings.TrimSpace(f) != "" {
		filter, err := compileFilter(kind, f)
		if err != nil {
			return pg, nil, badQuery("$filter", f, err.Error())
		}
		pg.Filter = filter
	}
	sel, err := selectSet(r, kind)
	return pg, sel, err
}

// selectSet parses $select into the set of top-level properties to keep.
func selectSet(r *http.Request, kind entityKind) (map[string]bool, error) {
	v, ok := queryGet(r, "$select")
	if !ok || strings.TrimSpace(v) == "" {
		return nil, nil
	}
	props, err := parseSelect(kind, v)
	if err != nil {
		return nil, badQuery("$select", v, err.Error())
	}
	sel := map[string]bool{}
	for _, p := range props {
		sel[p] = true
	}
	return sel, nil
}

// checkExpand accepts $expand=stats (the only expansion the API defines).
func checkExpand(r *http.Request) error {
	v, ok := queryGet(r, "$expand")
	if !ok || v == "" {
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if strings.TrimSpace(p) != "stats" {
			return badQuery("$expand", v, "Only stats can be expanded.")
		}
	}
	return nil
}

// conditionsMet checks a read's If-* headers against an entity. When they
// fail it writes 304 (with the entity's ETag and Last-Modified, as HTTP
// asks) or 412, and returns false.
func conditionsMet(w http.ResponseWriter, r *http.Request, cond service.Conditions, etag string, lm *time.Time) bool {
	err := cond.Check(etag, lm, false)
	if err == nil {
		return true
	}
	setEntityHeaders(w, etag, lm, "")
	writeError(w, r, err)
	return false
}
