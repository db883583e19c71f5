package s3_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/blobtest"
	"github.com/openbatch/openbatch/blob/s3"
	"github.com/openbatch/openbatch/internal/testenv"
)

func backend(t *testing.T, srv *testenv.S3rver, secret string) *s3.Backend {
	t.Helper()
	return backendAs(t, srv, testenv.S3rverKey, secret)
}

func backendAs(t *testing.T, srv *testenv.S3rver, key, secret string) *s3.Backend {
	t.Helper()
	b, err := s3.New(s3.Options{Endpoint: srv.Endpoint, AccessKeyID: key, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func create(t *testing.T, b *s3.Backend, u string) blob.Container {
	t.Helper()
	c, err := b.Open(context.Background(), u, blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr, ok := blob.AsCreator(c)
	if !ok {
		t.Fatal("S3 containers must be creatable")
	}
	if err := cr.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cr.Create(context.Background()); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	return c
}

// TestContract runs the shared backend contract against s3rver, through
// both URL forms, the second narrowed to a key prefix.
func TestContract(t *testing.T) {
	srv := testenv.StartS3rver(t)
	b := backend(t, srv, testenv.S3rverSecret)
	t.Run("s3 scheme", func(t *testing.T) {
		blobtest.Run(t, blob.WithRetry(create(t, b, "s3://contract-one"), blob.RetryPolicy{}))
	})
	t.Run("endpoint URL with prefix", func(t *testing.T) {
		create(t, b, "s3://contract-two")
		c, err := b.Route(blob.OpenerFunc(func(context.Context, string, blob.OpenOptions) (blob.Container, error) {
			return nil, errors.New("routed to the fallback")
		})).Open(context.Background(), srv.Endpoint+"/contract-two/some/prefix", blob.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		blobtest.Run(t, c)
	})
}

func TestErrorsClassified(t *testing.T) {
	srv := testenv.StartS3rver(t)
	ctx := context.Background()
	good := backend(t, srv, testenv.S3rverSecret)
	create(t, good, "s3://errs")
	bad := backendAs(t, srv, "UNKNOWNKEY", "wrong-secret")
	data := []byte("x")
	tests := []struct {
		name string
		b    *s3.Backend
		url  string
		want blob.Kind
	}{
		{"missing bucket", good, "s3://nosuchbucket", blob.ContainerNotFound},
		{"unknown access key", bad, "s3://errs", blob.AccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.b.Open(ctx, tt.url, blob.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Put(ctx, "f.txt", bytes.NewReader(data), 1, blob.PutOptions{})
			if blob.KindOf(err) != tt.want {
				t.Fatalf("Put: %v (kind %v), want %v", err, blob.KindOf(err), tt.want)
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
	for _, u := range []string{"s3://", "s3://b?X-Amz-Signature=abc", "ftp://b/c", "https://other.example/b"} {
		if _, err := good.Open(ctx, u, blob.OpenOptions{}); err == nil || strings.Contains(err.Error(), "abc") {
			t.Errorf("Open(%q): %v", u, err)
		}
	}
	if _, err := good.Open(ctx, "s3://b", blob.OpenOptions{IdentityResourceID: "/x"}); blob.KindOf(err) != blob.AccessDenied {
		t.Errorf("identity reference: %v", err)
	}
}
