package outputfiles

import (
	"fmt"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
)

// HeaderError says why an uploadHeaders entry cannot be used.
type HeaderError struct {
	// Index is the header's position in uploadHeaders.
	Index int
	// Name and Value are the header as given.
	Name, Value string
	// Field is "name" or "value": which part is wrong.
	Field string
	// Reason says what to change.
	Reason string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("upload header %q: %s", e.Name, e.Reason)
}

// supportedHeaders lists the uploadHeaders names openbatch applies (case-
// insensitive), as the Put Blob operation defines them.
const supportedHeaders = "Content-Type, x-ms-blob-content-type, Content-Encoding, x-ms-blob-content-encoding, " +
	"Content-Language, x-ms-blob-content-language, Content-Disposition, x-ms-blob-content-disposition, " +
	"Cache-Control, x-ms-blob-cache-control, x-ms-meta-{name}, x-ms-access-tier"

// PutOptions maps uploadHeaders onto blob properties and metadata as Put
// Blob defines them: Content-Type / x-ms-blob-content-type (the x-ms-blob-
// form wins when both are given; likewise for encoding, language,
// disposition and cache control), x-ms-meta-{name} (name: a C# identifier,
// case-insensitively unique), x-ms-access-tier (Hot, Cool, Cold, Archive).
// Content-MD5 / x-ms-blob-content-md5 are refused because openbatch computes
// the MD5 itself; every other header is refused with a *HeaderError.
func PutOptions(headers []api.HTTPHeader) (blob.PutOptions, error) {
	var o blob.PutOptions
	seen := map[string]bool{}
	fromXMS := map[string]bool{}
	for i, h := range headers {
		name := strings.ToLower(strings.TrimSpace(h.Name))
		bad := func(field, reason string) error {
			return &HeaderError{Index: i, Name: h.Name, Value: h.Value, Field: field, Reason: reason}
		}
		if name == "" {
			return o, bad("name", "the header name is empty")
		}
		if seen[name] {
			return o, bad("name", "the header is given more than once")
		}
		seen[name] = true
		if meta, ok := strings.CutPrefix(name, "x-ms-meta-"); ok {
			orig := strings.TrimSpace(h.Name)[len("x-ms-meta-"):]
			if !isName(meta) {
				return o, bad("name", "metadata names must be C# identifiers: a letter or _ followed by letters, digits or _")
			}
			if o.Metadata == nil {
				o.Metadata = map[string]string{}
			}
			o.Metadata[orig] = h.Value
			continue
		}
		prop, xms := "", false
		switch name {
		case "x-ms-blob-content-type", "content-type":
			prop, xms = "type", name != "content-type"
		case "x-ms-blob-content-encoding", "content-encoding":
			prop, xms = "encoding", name != "content-encoding"
		case "x-ms-blob-content-language", "content-language":
			prop, xms = "language", name != "content-language"
		case "x-ms-blob-content-disposition", "content-disposition":
			prop, xms = "disposition", name != "content-disposition"
		case "x-ms-blob-cache-control", "cache-control":
			prop, xms = "cache", name != "cache-control"
		case "x-ms-access-tier":
			t, ok := canonicalTier(h.Value)
			if !ok {
				return o, bad("value", "x-ms-access-tier must be Hot, Cool, Cold or Archive")
			}
			o.AccessTier = t
			continue
		case "content-md5", "x-ms-blob-content-md5":
			return o, bad("name", "openbatch computes and sets Content-MD5 on every blob; remove this header")
		default:
			return o, bad("name", "the header is not supported; supported headers are "+supportedHeaders)
		}
		if fromXMS[prop] && !xms {
			continue // the x-ms-blob- form already set it and wins
		}
		fromXMS[prop] = xms
		switch prop {
		case "type":
			o.ContentType = h.Value
		case "encoding":
			o.ContentEncoding = h.Value
		case "language":
			o.ContentLanguage = h.Value
		case "disposition":
			o.ContentDisposition = h.Value
		case "cache":
			o.CacheControl = h.Value
		}
	}
	return o, nil
}

func canonicalTier(v string) (string, bool) {
	for _, t := range []string{"Hot", "Cool", "Cold", "Archive"} {
		if strings.EqualFold(strings.TrimSpace(v), t) {
			return t, true
		}
	}
	return "", false
}
