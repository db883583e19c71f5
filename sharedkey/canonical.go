package sharedkey

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// standardHeaders are the eleven header slots of the string to sign, in
// order, as canonical MIME keys so that they can be looked up in an
// http.Header without allocating. Content-Length (index 2) is special: its
// value is chosen by the caller.
var standardHeaders = [11]string{
	"Content-Encoding",
	"Content-Language",
	"Content-Length",
	"Content-Md5",
	"Content-Type",
	"Date",
	"If-Modified-Since",
	"If-Match",
	"If-None-Match",
	"If-Unmodified-Since",
	"Range",
}

const contentLengthSlot = 2

// span is a [lo, hi) range of builder.buf.
type span struct{ lo, hi int }

// param is one query parameter, decoded into builder.buf.
type param struct {
	name  span // as sent (decoded)
	lname span // lowercased; equal to name when name has no upper case
	value span // decoded
}

// ocpHeader is one ocp-* header with its lowercased name in builder.buf.
type ocpHeader struct {
	lname  span
	values []string
}

// variant is one way of building the string to sign. The zero variant with
// the request's own Content-Length and account is the documented form.
type variant struct {
	contentLength string
	account       string
	origKeys      bool // query names as sent, sorted as sent (JS, Python)
	skipEmpty     bool // query parameters with empty values left out (Python)
}

// builder is reusable scratch space for building strings to sign. A builder
// is used by one goroutine at a time; Credential pools them.
type builder struct {
	buf      []byte
	params   []param
	hdrs     []ocpHeader
	out      []byte
	sortMode int // 0 unsorted, 1 by lowercased name, 2 by name as sent
	hasUpper bool
	hasEmpty bool
}

func (b *builder) bytes(s span) []byte { return b.buf[s.lo:s.hi] }

// reset prepares b for req: it decodes the query and collects the ocp-*
// headers. It does not look at the Authorization header.
func (b *builder) reset(req *http.Request) {
	b.buf = b.buf[:0]
	b.params = b.params[:0]
	b.hdrs = b.hdrs[:0]
	b.sortMode = 0
	b.hasUpper = false
	b.hasEmpty = false

	raw := ""
	if req.URL != nil {
		raw = req.URL.RawQuery
	}
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		var p param
		p.name = b.appendDecoded(k)
		p.lname = p.name
		if hasUpperASCII(b.bytes(p.name)) {
			b.hasUpper = true
			lo := len(b.buf)
			for _, c := range b.buf[p.name.lo:p.name.hi] {
				b.buf = append(b.buf, lowerASCII(c))
			}
			p.lname = span{lo, len(b.buf)}
		}
		p.value = b.appendDecoded(v)
		if p.value.lo == p.value.hi {
			b.hasEmpty = true
		}
		b.params = append(b.params, p)
	}

	for name, values := range req.Header {
		if len(name) < 4 || !strings.EqualFold(name[:4], "ocp-") {
			continue
		}
		lo := len(b.buf)
		for i := 0; i < len(name); i++ {
			b.buf = append(b.buf, lowerASCII(name[i]))
		}
		b.hdrs = append(b.hdrs, ocpHeader{lname: span{lo, len(b.buf)}, values: values})
	}
	slices.SortFunc(b.hdrs, func(x, y ocpHeader) int {
		return bytes.Compare(b.bytes(x.lname), b.bytes(y.lname))
	})
}

// appendDecoded appends the query-decoded form of s to b.buf ('+' is a space,
// %XX an octet). A malformed escape leaves s as it is, in both Sign and
// Verify, so the two always agree.
func (b *builder) appendDecoded(s string) span {
	lo := len(b.buf)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.buf = append(b.buf, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				b.buf = append(b.buf[:lo], s...)
				return span{lo, len(b.buf)}
			}
			b.buf = append(b.buf, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b.buf = append(b.buf, c)
		}
	}
	return span{lo, len(b.buf)}
}

func (b *builder) sortParams(origKeys bool) {
	mode := 1
	if origKeys {
		mode = 2
	}
	if b.sortMode == mode {
		return
	}
	b.sortMode = mode
	slices.SortStableFunc(b.params, func(x, y param) int {
		kx, ky := x.lname, y.lname
		if origKeys {
			kx, ky = x.name, y.name
		}
		if c := bytes.Compare(b.bytes(kx), b.bytes(ky)); c != 0 {
			return c
		}
		return bytes.Compare(b.bytes(x.value), b.bytes(y.value))
	})
}

// appendStringToSign appends the string to sign of req under variant v.
// reset(req) must have been called.
func (b *builder) appendStringToSign(dst []byte, req *http.Request, v variant) []byte {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	dst = append(dst, method...)
	dst = append(dst, '\n')
	for i, key := range standardHeaders {
		if i == contentLengthSlot {
			dst = append(dst, v.contentLength...)
		} else if vals := req.Header[key]; len(vals) > 0 {
			dst = append(dst, vals[0]...)
		}
		dst = append(dst, '\n')
	}

	// Canonicalized headers. Two spellings of one name (possible when a
	// header map was filled without canonicalizing keys) are merged.
	for i := 0; i < len(b.hdrs); i++ {
		h := b.hdrs[i]
		if i > 0 && bytes.Equal(b.bytes(b.hdrs[i-1].lname), b.bytes(h.lname)) {
			dst = dst[:len(dst)-1] // drop the previous '\n'
			dst = append(dst, ',')
		} else {
			dst = append(dst, b.bytes(h.lname)...)
			dst = append(dst, ':')
		}
		for j, val := range h.values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, val...)
		}
		dst = append(dst, '\n')
	}

	// Canonicalized resource.
	dst = append(dst, '/')
	dst = append(dst, v.account...)
	dst = append(dst, wirePath(req)...)

	b.sortParams(v.origKeys)
	for i := 0; i < len(b.params); {
		key := b.params[i].lname
		if v.origKeys {
			key = b.params[i].name
		}
		start := len(dst)
		dst = append(dst, '\n')
		dst = append(dst, b.bytes(key)...)
		dst = append(dst, ':')
		n := 0
		for ; i < len(b.params); i++ {
			p := b.params[i]
			k := p.lname
			if v.origKeys {
				k = p.name
			}
			if !bytes.Equal(b.bytes(k), b.bytes(key)) {
				break
			}
			if v.skipEmpty && p.value.lo == p.value.hi {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, b.bytes(p.value)...)
			n++
		}
		if n == 0 && v.skipEmpty {
			dst = dst[:start]
		}
	}
	return dst
}

// wirePath returns the request path exactly as it was sent: from the raw
// request line on a server, from the URL's escaped path on a client.
func wirePath(req *http.Request) string {
	if uri := req.RequestURI; uri != "" {
		if uri[0] != '/' {
			// Absolute form: scheme://authority/path?query.
			if i := strings.Index(uri, "://"); i >= 0 {
				rest := uri[i+3:]
				j := strings.IndexAny(rest, "/?")
				if j < 0 || rest[j] == '?' {
					return "/"
				}
				uri = rest[j:]
			}
		}
		if q := strings.IndexByte(uri, '?'); q >= 0 {
			uri = uri[:q]
		}
		if uri == "" {
			return "/"
		}
		return uri
	}
	if req.URL == nil {
		return "/"
	}
	if p := req.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// contentLength returns the Content-Length slot as a signer fills it: the
// header if set, else the request's ContentLength if positive, else empty.
func contentLength(req *http.Request) string {
	if vals := req.Header["Content-Length"]; len(vals) > 0 {
		return vals[0]
	}
	if req.ContentLength > 0 {
		return strconv.FormatInt(req.ContentLength, 10)
	}
	return ""
}

func hasUpperASCII(s []byte) bool {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// StringToSign returns the string to sign of req in the documented form, as
// [Credential.Sign] computes it for account. It is meant for debugging
// clients: compare it with what a client signed. A server must not send it
// back in a response, since it helps an attacker who has no key.
func StringToSign(req *http.Request, account string) string {
	var b builder
	b.reset(req)
	return string(b.appendStringToSign(nil, req, variant{contentLength: contentLength(req), account: account}))
}
