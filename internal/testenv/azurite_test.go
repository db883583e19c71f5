package testenv

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestAzuriteUploadWithWriteOnlySAS(t *testing.T) {
	a := SharedAzurite(t)
	c := a.NewContainer(t)
	u := a.ContainerSAS(t, c, "w", time.Now().Add(time.Hour))
	if !strings.Contains(u, "sig=") {
		t.Fatalf("SAS URL has no signature: %s", u)
	}
	if _, err := a.Client(t).UploadBuffer(context.Background(), c, "x/y.txt", []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Download(t, c, "x/y.txt")
	if string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	if names := a.Blobs(t, c); len(names) != 1 || names[0] != "x/y.txt" {
		t.Fatalf("blobs = %v", names)
	}
}
