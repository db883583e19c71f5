package sharedkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// ParseAuthorization splits an Authorization header value of the form
// "SharedKey account:signature". It lets a server that hosts several accounts
// pick the credential before calling Verify. The error is an [*Error] with
// status 400 and code InvalidAuthenticationInfo.
func ParseAuthorization(header string) (account, signature string, err error) {
	h := strings.TrimSpace(header)
	if h == "" {
		return "", "", invalidInfo("the Authorization header is missing; send \"Authorization: SharedKey <account>:<signature>\"")
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "SharedKey") {
		return "", "", invalidInfo("the Authorization scheme %q is not supported; use \"SharedKey <account>:<signature>\"", clip(scheme))
	}
	account, signature, ok := strings.Cut(strings.TrimSpace(rest), ":")
	if !ok || account == "" || signature == "" {
		return "", "", invalidInfo("the Authorization header is malformed; it must be \"SharedKey <account>:<signature>\" with a base64 HMAC-SHA256 signature")
	}
	return account, signature, nil
}

// dateLayouts are the accepted spellings of the request date: RFC 1123 with
// GMT (http.TimeFormat, what the Python, JS and .NET clients send) and with
// UTC (what Go's time.RFC1123 produces for a UTC time), plus a numeric zone.
var dateLayouts = [...]string{http.TimeFormat, "Mon, 02 Jan 2006 15:04:05 UTC", time.RFC1123Z}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	// RFC 850 and asctime, which HTTP/1.1 still asks servers to accept.
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// Verify checks that req carries a valid Shared Key signature by this
// credential, made within MaxClockSkew of now. It reads the request as it
// arrived (the raw path of the request line, the raw query, the headers as
// sent) and never modifies it or reads its body.
//
// The date is the ocp-date header, or the Date header if there is no
// ocp-date. Verify first checks the documented string to sign, then, only if
// that fails, the variants the official clients produce:
//   - Content-Length signed as "0" when the header is absent or empty, and as
//     "" when the header is "0" (net/http adds "Content-Length: 0" after a Go
//     client has signed);
//   - query names as sent and sorted as sent, instead of lowercased;
//   - query parameters with empty values left out;
//   - the account name lowercased.
//
// A failure is an [*Error]: 400 InvalidAuthenticationInfo for a missing or
// malformed Authorization header or a missing or unparseable date, 403
// AuthenticationFailed for another account, a date out of range or a wrong
// signature. The signature is compared in constant time.
func (c *Credential) Verify(req *http.Request, now time.Time) error {
	account, sig, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if !strings.EqualFold(account, c.account) {
		return authFailed("the Authorization header names account %q, which this server does not serve; sign with the account name and key the server was started with", clip(account))
	}
	var got [sha256.Size + 1]byte
	if len(sig) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return invalidInfo("the signature in the Authorization header is not a base64-encoded HMAC-SHA256 (44 characters)")
	}
	var sigBytes [44]byte // EncodedLen(sha256.Size), on the stack
	copy(sigBytes[:], sig)
	if n, err := base64.StdEncoding.Decode(got[:], sigBytes[:]); err != nil || n != sha256.Size {
		return invalidInfo("the signature in the Authorization header is not a base64-encoded HMAC-SHA256 (44 characters)")
	}

	dateHeader, dateValue := "ocp-date", ""
	if v, ok := ocpDate(req.Header); ok {
		dateValue = v
	} else if v := req.Header.Get("Date"); v != "" {
		dateHeader, dateValue = "Date", v
	} else {
		return invalidInfo("the request has neither an ocp-date nor a Date header; set ocp-date to the current UTC time, e.g. %q", now.UTC().Format(http.TimeFormat))
	}
	t, ok := parseDate(dateValue)
	if !ok {
		return invalidInfo("the %s header %q is not an RFC 1123 date; use the form %q", dateHeader, clip(dateValue), now.UTC().Format(http.TimeFormat))
	}
	if skew := now.Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		dir := "in the past"
		if skew < 0 {
			dir, skew = "in the future", -skew
		}
		return authFailed("the %s header is %s %s; requests must be signed within 15 minutes of the server's time (%s)", dateHeader, roughDuration(skew), dir, now.UTC().Format(http.TimeFormat))
	}

	s := c.get()
	defer c.put(s)
	s.reset(req)

	cls := [2]string{contentLength(req)}
	ncl := 1
	switch cls[0] {
	case "0":
		cls[1], ncl = "", 2
	case "":
		cls[1], ncl = "0", 2
	}
	accts := [2]string{account}
	nacct := 1
	if lower := strings.ToLower(account); lower != account {
		accts[1], nacct = lower, 2
	}
	nkeys := 1
	if s.hasUpper {
		nkeys = 2
	}
	nempty := 1
	if s.hasEmpty {
		nempty = 2
	}

	for k := 0; k < nkeys; k++ {
		for e := 0; e < nempty; e++ {
			for a := 0; a < nacct; a++ {
				for l := 0; l < ncl; l++ {
					v := variant{contentLength: cls[l], account: accts[a], origKeys: k == 1, skipEmpty: e == 1}
					s.out = s.appendStringToSign(s.out[:0], req, v)
					if hmac.Equal(s.hmac(s.out), got[:sha256.Size]) {
						return nil
					}
				}
			}
		}
	}
	return authFailed("the signature does not match the request; check the account key, and that the client signs the method, the 11 standard headers as sent, every ocp-* header, the path exactly as sent and the decoded query parameters, after the request is final")
}

// roughDuration formats d to the second, without trailing zero units
// ("20m", "1h2m", "16m30s").
func roughDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
