package blob_test

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/blob"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://acc.blob.core.windows.net/c?sv=2023-01-03&sp=w&se=2030-01-01&sig=abc%2Bdef%3D",
			"https://acc.blob.core.windows.net/c?sv=2023-01-03&sp=w&se=2030-01-01&sig=REDACTED"},
		{"http://127.0.0.1:10000/devstoreaccount1/c?SIG=secret&sp=w", "http://127.0.0.1:10000/devstoreaccount1/c?SIG=REDACTED&sp=w"},
		{"https://user:pw@host/c", "https://host/c"},
		{"file:///data/out", "file:///data/out"},
		{"not a url sig=topsecret&x", "not a url sig=REDACTED&x"},
	} {
		if got := blob.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	txt := `Put "https://a/c/b?sp=w&sig=abc%2F" failed; DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;` +
		` Authorization: SharedKey acc:c2lnbmF0dXJl sig%3Dxyz`
	got := blob.RedactText(txt)
	for _, secret := range []string{"abc%2F", "Zm9v", "c2lnbmF0dXJl", "xyz"} {
		if strings.Contains(got, secret) {
			t.Errorf("RedactText left %q in %q", secret, got)
		}
	}
}

type fakeContainer struct {
	errs  []error
	calls int
}

func (f *fakeContainer) Put(_ context.Context, _ string, _ io.ReaderAt, size int64, _ blob.PutOptions) (blob.PutResult, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return blob.PutResult{}, err
	}
	return blob.PutResult{Size: size, Retries: 1}, nil
}
func (f *fakeContainer) Get(context.Context, string) (io.ReadCloser, blob.Properties, error) {
	return nil, blob.Properties{}, errors.ErrUnsupported
}
func (f *fakeContainer) GetRange(context.Context, string, int64, int64) (io.ReadCloser, blob.Properties, error) {
	return nil, blob.Properties{}, errors.ErrUnsupported
}
func (f *fakeContainer) Stat(context.Context, string) (blob.Properties, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return blob.Properties{}, err
	}
	return blob.Properties{Size: 7}, nil
}
func (f *fakeContainer) List(context.Context, string) iter.Seq2[blob.Item, error] {
	return func(func(blob.Item, error) bool) {}
}
func (f *fakeContainer) Delete(context.Context, string) error { return errors.ErrUnsupported }
func (f *fakeContainer) String() string                       { return "fake" }

// creatingContainer adds the optional Creator interface.
type creatingContainer struct{ fakeContainer }

func (*creatingContainer) Create(context.Context) error { return nil }

func TestRetryStatAndOptionalInterfaces(t *testing.T) {
	transient := &blob.Error{Kind: blob.Misc, Transient: true}
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantKind  blob.Kind
		wantErr   bool
	}{
		{"ok", nil, 1, 0, false},
		{"transient then ok", []error{transient}, 2, 0, false},
		{"not found is final", []error{&blob.Error{Kind: blob.BlobNotFound}}, 1, blob.BlobNotFound, true},
		{"bounded", []error{transient, transient, transient, transient}, 3, blob.Misc, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeContainer{errs: tt.errs}
			c := blob.WithRetry(f, blob.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond})
			p, err := c.Stat(context.Background(), "b")
			if (err != nil) != tt.wantErr || f.calls != tt.wantCalls {
				t.Fatalf("err %v calls %d", err, f.calls)
			}
			if err != nil && blob.KindOf(err) != tt.wantKind {
				t.Errorf("kind %v, want %v", blob.KindOf(err), tt.wantKind)
			}
			if err == nil && p.Size != 7 {
				t.Errorf("size %d", p.Size)
			}
		})
	}
	if _, ok := blob.AsCreator(blob.WithRetry(&creatingContainer{}, blob.RetryPolicy{})); !ok {
		t.Error("AsCreator does not see through WithRetry")
	}
	if _, ok := blob.AsCreator(blob.WithRetry(&fakeContainer{}, blob.RetryPolicy{})); ok {
		t.Error("AsCreator found a Creator that is not there")
	}
	if _, ok := blob.AsAppender(&fakeContainer{}); ok {
		t.Error("AsAppender found an Appender that is not there")
	}
}

func TestWithRetry(t *testing.T) {
	transient := &blob.Error{Kind: blob.TimedOut, Transient: true, Retries: 2}
	f := &fakeContainer{errs: []error{transient}}
	c := blob.WithRetry(f, blob.RetryPolicy{BaseDelay: time.Millisecond})
	res, err := c.Put(context.Background(), "b", strings.NewReader("x"), 1, blob.PutOptions{})
	if err != nil || f.calls != 2 || res.Retries != 2+1+1 {
		t.Fatalf("err %v calls %d retries %d", err, f.calls, res.Retries)
	}
	// Permanent errors are not retried.
	f = &fakeContainer{errs: []error{&blob.Error{Kind: blob.AccessDenied}}}
	c = blob.WithRetry(f, blob.RetryPolicy{BaseDelay: time.Millisecond})
	if _, err := c.Put(context.Background(), "b", strings.NewReader("x"), 1, blob.PutOptions{}); !errors.Is(err, blob.ErrAccessDenied) || f.calls != 1 {
		t.Fatalf("err %v calls %d", err, f.calls)
	}
	// Attempts are bounded.
	f = &fakeContainer{errs: []error{transient, transient, transient, transient}}
	c = blob.WithRetry(f, blob.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond})
	if _, err := c.Put(context.Background(), "b", strings.NewReader("x"), 1, blob.PutOptions{}); !errors.Is(err, blob.ErrTimedOut) || f.calls != 3 {
		t.Fatalf("err %v calls %d", err, f.calls)
	}
}

func TestKindAndMux(t *testing.T) {
	if blob.KindOf(context.DeadlineExceeded) != blob.TimedOut || blob.KindOf(errors.New("x")) != blob.Misc {
		t.Error("KindOf")
	}
	e := &blob.Error{Kind: blob.ContainerNotFound, Op: "put", Container: "https://a/c?sig=REDACTED", Err: errors.New("see https://a/c?sig=leak")}
	if !errors.Is(e, blob.ErrContainerNotFound) || errors.Is(e, blob.ErrAccessDenied) || strings.Contains(e.Error(), "leak") {
		t.Errorf("Error: %v", e)
	}
	m := blob.NewMux(map[string]blob.Opener{"FILE": blob.OpenerFunc(func(context.Context, string, blob.OpenOptions) (blob.Container, error) {
		return &fakeContainer{}, nil
	})})
	if _, err := m.Open(context.Background(), "file:///x", blob.OpenOptions{}); err != nil {
		t.Error(err)
	}
	if _, err := m.Open(context.Background(), "s3://b/c?sig=s3cret", blob.OpenOptions{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unknown scheme: %v", err)
	}
}

// Only a backend that resumes makes uploads resumable; the retry wrapper
// alone does not.
func TestCanResume(t *testing.T) {
	if blob.CanResume(blob.WithRetry(&fakeContainer{}, blob.RetryPolicy{})) {
		t.Fatal("a wrapped non-resumable container reported resumable")
	}
	if !blob.CanResume(blob.WithRetry(resumableContainer{&fakeContainer{}}, blob.RetryPolicy{})) {
		t.Fatal("a wrapped resumable container reported not resumable")
	}
}

type resumableContainer struct{ *fakeContainer }

func (resumableContainer) PutResumable(context.Context, string, io.ReaderAt, int64, blob.PutOptions, blob.Journal) (blob.PutResult, error) {
	return blob.PutResult{}, nil
}
