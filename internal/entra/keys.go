package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// maxJWKSBytes bounds a fetched key set document.
const maxJWKSBytes = 1 << 20

// remoteKeys is an oidc.KeySet backed by an issuer's jwks_uri. Keys are
// cached; a token whose key ID is not cached triggers one refetch, at most
// once per minInterval, and concurrent refetches are merged. A token whose
// key ID is cached but whose signature is wrong never triggers a fetch, so
// forged tokens cannot make the server hammer the issuer.
type remoteKeys struct {
	url         string
	client      *http.Client
	minInterval time.Duration
	now         func() time.Time

	group   singleflight.Group
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // zero until the first successful or failed fetch
}

// VerifySignature implements oidc.KeySet. go-oidc has already restricted
// the algorithm before calling it.
func (r *remoteKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, known := r.cached(kid)
	if !known {
		if keys, err = r.refresh(ctx, kid); err != nil {
			return nil, err
		}
	}
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, nil
			}
		}
	}
	return nil, errors.New("no key of the issuer verifies the signature")
}

// cached returns the cached keys and whether kid is among them (an empty
// kid counts as known once any key is cached).
func (r *remoteKeys) cached(kid string) ([]jose.JSONWebKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kid == "" {
		return r.keys, len(r.keys) > 0
	}
	for _, k := range r.keys {
		if k.KeyID == kid {
			return r.keys, true
		}
	}
	return r.keys, false
}

// refresh refetches the key set unless the last fetch is more recent than
// minInterval, and returns the keys then cached.
func (r *remoteKeys) refresh(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	recent := !r.fetched.IsZero() && r.minInterval > 0 && r.now().Sub(r.fetched) < r.minInterval
	keys := r.keys
	r.mu.Unlock()
	if recent {
		return keys, nil
	}
	// Concurrent callers share one fetch; the caller that starts it owns
	// it and waits for it, bounded by its context and the client timeout.
	v, err, _ := r.group.Do("jwks", func() (any, error) {
		keys, err := r.fetch(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			// A fetch abandoned by its caller does not count against the
			// interval, so cancelling requests cannot block a refresh.
			if ctx.Err() == nil {
				r.fetched = r.now()
			}
			return nil, err
		}
		r.keys, r.fetched = keys, r.now()
		return keys, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]jose.JSONWebKey), nil
}

func (r *remoteKeys) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", r.url, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, fmt.Errorf("read key set %s: %w", r.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set %s: %s", r.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode key set %s: %w", r.url, err)
	}
	return set.Keys, nil
}
