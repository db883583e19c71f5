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
	return r.put(ctx, func() (PutResult, error) { return r.Container.Put(ctx, name, src, size, opts) })
}

// put runs one upload attempt until it succeeds, fails permanently or the
// attempts are used.
func (r *retrying) put(ctx context.Context, attemptPut func() (PutResult, error)) (PutResult, error) {
	total := 0
	for attempt := 1; ; attempt++ {
		res, err := attemptPut()
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

// PutResumable retries as Put does; each attempt resumes from the journal,
// so a retry after a connection reset re-sends only the missing blocks.
// When the wrapped container cannot resume it is Put.
func (r *retrying) PutResumable(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions, j Journal) (PutResult, error) {
	if _, ok := r.Container.(Resumer); !ok {
		return r.Put(ctx, name, src, size, opts)
	}
	return r.put(ctx, func() (PutResult, error) { return PutResumable(ctx, r.Container, name, src, size, opts, j) })
}

// Unwrap returns the wrapped Container, so AsCreator and AsAppender can find
// optional interfaces beneath the wrapper.
func (r *retrying) Unwrap() Container { return r.Container }

// Stat is retried as Put is: it is idempotent.
func (r *retrying) Stat(ctx context.Context, name string) (Properties, error) {
	var p Properties
	err := r.do(ctx, func() error {
		var err error
		p, err = r.Container.Stat(ctx, name)
		return err
	})
	return p, err
}

// GetRange retries opening the range; the returned reader is the backend's
// (blob/azure's reader resumes a broken download by itself).
func (r *retrying) GetRange(ctx context.Context, name string, offset, count int64) (io.ReadCloser, Properties, error) {
	var (
		rc io.ReadCloser
		p  Properties
	)
	err := r.do(ctx, func() error {
		var err error
		rc, p, err = r.Container.GetRange(ctx, name, offset, count)
		return err
	})
	return rc, p, err
}

// Get is GetRange of the whole blob, retried.
func (r *retrying) Get(ctx context.Context, name string) (io.ReadCloser, Properties, error) {
	return r.GetRange(ctx, name, 0, -1)
}

// do runs op until it succeeds, fails permanently, or the attempts are used.
func (r *retrying) do(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt >= r.policy.MaxAttempts || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(r.policy.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// unwrapper is a Container wrapping another (WithRetry's).
type unwrapper interface{ Unwrap() Container }

// AsCreator returns c's Creator, looking beneath wrappers such as WithRetry.
func AsCreator(c Container) (Creator, bool) {
	for c != nil {
		if x, ok := c.(Creator); ok {
			return x, true
		}
		u, ok := c.(unwrapper)
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	return nil, false
}

// AsAppender returns c's Appender, looking beneath wrappers such as
// WithRetry.
func AsAppender(c Container) (Appender, bool) {
	for c != nil {
		if x, ok := c.(Appender); ok {
			return x, true
		}
		u, ok := c.(unwrapper)
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	return nil, false
}
