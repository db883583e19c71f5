package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Session cookie. Its value is base64url(expiry ‖ method ‖ nonce) "."
// base64url(HMAC-SHA256(sessionKey, that)). It holds no key and no token:
// the HMAC proves this account's server issued it, the expiry bounds it.
// Sessions are not stored, so any server sharing the account key accepts
// them; they end at expiry, at sign-out (the cookie is cleared) or when the
// account key changes. A stolen cookie cannot be revoked alone before it
// expires — it is HttpOnly, SameSite=Strict and Secure over TLS, and lives
// SessionLifetime (8h by default).
const (
	cookieName = "openbatch_console"
	// maxFormBytes bounds the sign-in form (an Entra token is a few KiB).
	maxFormBytes = 32 << 10
	// maxCookieBytes bounds the session cookie parsed.
	maxCookieBytes = 256
)

// Sign-in methods recorded in a session (for the page header).
const (
	methodKey    byte = 'k'
	methodBearer byte = 'b'
)

// sessionKey derives the session-signing key from the account key, so
// that a session never reveals, and never equals, the key itself.
func sessionKey(accountKey []byte) []byte {
	m := hmac.New(sha256.New, accountKey)
	m.Write([]byte("openbatch console session v1"))
	return m.Sum(nil)
}

// newSession returns a cookie value valid until exp.
func (c *Console) newSession(exp time.Time, method byte) string {
	payload := make([]byte, 8+1+16)
	binary.BigEndian.PutUint64(payload, uint64(exp.Unix()))
	payload[8] = method
	_, _ = rand.Read(payload[9:])
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// session checks the request's session cookie and returns its sign-in
// method.
func (c *Console) session(r *http.Request) (byte, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil || len(ck.Value) > maxCookieBytes {
		return 0, false
	}
	p, s, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return 0, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || len(payload) != 8+1+16 {
		return 0, false
	}
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return 0, false
	}
	if c.cfg.Now().Unix() >= int64(binary.BigEndian.Uint64(payload)) {
		return 0, false
	}
	return payload[8], true
}

// authed lets a request through when the console is open or the request
// carries a valid session; otherwise pages redirect to the sign-in form and
// the requests the page script makes get 401.
func (c *Console) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.cfg.Open {
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := c.session(r); ok {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get(fetchHeader) != "" {
			http.Error(w, "sign in again", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, Prefix+"signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// safeNext returns next when it is a console path on this server (never
// another origin: no open redirect), else the console's start page.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix) && !strings.Contains(next, "\\") && !strings.HasPrefix(next, "//") {
		return next
	}
	return Prefix
}

type signInView struct {
	Account string
	Next    string
	Error   string
	Bearer  bool
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Open {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", "Sign in", signInView{Account: c.cfg.AccountName,
		Next: safeNext(r.URL.Query().Get("next")), Bearer: c.cfg.Bearer != nil})
}

// sameOrigin reports whether a POST comes from the console's own pages:
// browsers send Origin on every POST, and SameSite=Strict already keeps
// the session cookie off cross-site requests; this also refuses a form
// posted from another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// signIn checks the account name and key, or an Entra ID token, and sets
// the session cookie. Failures are logged at info with the reason, never
// with what was typed.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Open {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	if !sameOrigin(r) {
		c.cfg.Log.Info("console sign-in refused", "reason", "cross-origin form", "remote", r.RemoteAddr)
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the sign-in form is too large or malformed", http.StatusBadRequest)
		return
	}
	view := signInView{Account: c.cfg.AccountName, Next: safeNext(r.PostForm.Get("next")), Bearer: c.cfg.Bearer != nil}
	account, key, token := strings.TrimSpace(r.PostForm.Get("account")), strings.TrimSpace(r.PostForm.Get("key")), strings.TrimSpace(r.PostForm.Get("token"))
	method, lifetime, reason := byte(0), c.cfg.SessionLifetime, ""
	switch {
	case token != "" && c.cfg.Bearer != nil:
		if err := c.cfg.Bearer.VerifyBearer(r.Context(), token); err != nil {
			reason = "bearer token refused: " + err.Error()
		} else {
			// An access token lives about an hour; a session it opens
			// lasts no longer than that.
			method, lifetime = methodBearer, min(lifetime, time.Hour)
		}
	case token != "":
		reason = "bearer tokens are not accepted (no Entra ID issuer is configured)"
	case key != "":
		given, err := base64.StdEncoding.DecodeString(key)
		nameOK := strings.EqualFold(account, c.cfg.AccountName)
		keyOK := err == nil && len(c.cfg.AccountKey) > 0 && subtle.ConstantTimeCompare(given, c.cfg.AccountKey) == 1
		switch {
		case !nameOK:
			reason = "unknown account name"
		case !keyOK:
			reason = "wrong account key"
		default:
			method = methodKey
		}
	default:
		reason = "no key or token given"
	}
	if method == 0 {
		c.cfg.Log.Info("console sign-in failed", "reason", reason, "remote", r.RemoteAddr)
		view.Error = "Sign-in failed: give this server's account name and key, or a valid Entra ID access token."
		c.render(w, r, http.StatusUnauthorized, "signin", "Sign in", view)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.newSession(c.cfg.Now().Add(lifetime), method), Path: Prefix,
		MaxAge: int(lifetime / time.Second), HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, view.Next, http.StatusSeeOther)
}

// signOut clears the session cookie.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin sign-out refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}

// overTLS reports whether the browser reached the server over HTTPS: TLS
// here, or a TLS-terminating proxy in front that says so in
// X-Forwarded-Proto (as the README's production notes set it up). A client
// that sends the header itself only makes its own cookie Secure.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
