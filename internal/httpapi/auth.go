package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/sharedkey"
)

// BearerVerifier checks Microsoft Entra ID access tokens ("Authorization:
// Bearer <JWT>"). internal/entra provides one.
type BearerVerifier interface {
	// VerifyBearer returns nil if raw (the token after "Bearer ") is
	// signed by a trusted issuer for an accepted audience and is current.
	// Its error message says what to fix and never contains the token.
	VerifyBearer(ctx context.Context, raw string) error
	// Challenge is the WWW-Authenticate value sent with every 401.
	Challenge() string
}

// authenticate checks the request's credential. With a bearer verifier
// configured, a missing Authorization header and any refused bearer token
// are 401 with the verifier's challenge, as Azure answers; Shared Key
// failures keep their own statuses (403 AuthenticationFailed for a wrong
// signature, 400 for a malformed SharedKey header), and any other scheme
// is 401. Without a verifier, behaviour is Shared Key only.
func (s *Server) authenticate(r *http.Request) *statusError {
	authz := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
	if s.Bearer != nil {
		switch {
		case strings.TrimSpace(authz) == "":
			return unauthorized("The request has no Authorization header. Send \"Authorization: Bearer <token>\" with a Microsoft Entra ID token for scope https://batch.core.windows.net//.default, or a SharedKey signature.")
		case strings.EqualFold(scheme, "Bearer"):
			if err := s.Bearer.VerifyBearer(r.Context(), strings.TrimSpace(rest)); err != nil {
				return unauthorized("Server failed to authenticate the request: " + err.Error() + ".")
			}
			return nil
		case s.Cred == nil || !strings.EqualFold(scheme, "SharedKey"):
			alt := "."
			if s.Cred != nil {
				alt = ", or a SharedKey signature."
			}
			return unauthorized("The Authorization scheme is not supported; send \"Authorization: Bearer <token>\" with a Microsoft Entra ID token for scope https://batch.core.windows.net//.default" + alt)
		}
	}
	if s.Cred == nil {
		return nil
	}
	if err := s.Cred.Verify(r, s.now()); err != nil {
		se, ok := err.(*sharedkey.Error)
		if !ok {
			se = &sharedkey.Error{Status: http.StatusForbidden, Code: api.CodeAuthenticationFailed, Message: err.Error()}
		}
		return &statusError{status: se.Status, err: &service.Error{Code: se.Code, Message: se.Message}}
	}
	return nil
}

func unauthorized(msg string) *statusError {
	return &statusError{status: http.StatusUnauthorized, err: &service.Error{Code: api.CodeAuthenticationFailed, Message: msg}}
}
