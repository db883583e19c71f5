package blob

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"
)

// RetryPolicy configures WithRetry. Zero fields take the documented defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of Put attempts in total (default 3; 1 means
	// no retry).
	MaxAttempts int
	// BaseDelay is the delay before the first retry (default 1s); it doubles
	// on each retry, with ±25% jitter.
	BaseDelay time.Duration
	// MaxDelay caps a single delay (default 30s).
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	return p
}

// Delay returns the backoff before retry number n (n >= 1): BaseDelay·2^(n-1)
// capped at MaxDelay, multiplied by a random factor in [0.75, 1.25).
func (p RetryPolicy) Delay(n int) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// WithRetry returns a Container whose Put is retried as a whole, with
// exponential backoff and jitter, when it fails with a transient error (see
// IsTransient). It is the outer layer of retrying: backends retry individual
// requests themselves (blob/azure through the SDK's retry policy, which
// honours Retry-After); WithRetry covers what survives that, such as a
// connection reset in the middle of a block upload after the request-level
// retries are used up. Because Put reads src from offset 0, a retried Put
// re-reads the source.
func WithRetry(c Container, p RetryPolicy) Container {
	return &retrying{Container: c, policy: p.withDefaults()}
}

type retrying struct {
	Container
	policy RetryPolicy
}

func (r *retrying) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) (PutResult, error) {
	total := 0
	for attempt := 1; ; attempt++ {
		res, err := r.Container.Put(ctx, name, src, size, opts)
		var be *Error
		if err != nil && errors.As(err, &be) {
			total += be.Retries
		} else {
			total += res.Retries
		}
		if err == nil || attempt >= r.policy.MaxAttempts || !IsTransient(err) || ctx.Err() != nil {
			res.Retries = total
			if be != nil {
				be.Retries = total
			}
			return res, err
		}
		total++ // this whole-Put retry
		t := time.NewTimer(r.policy.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			if be != nil {
				be.Retries = total
			}
			return res, err
		case <-t.C:
		}
	}
}
