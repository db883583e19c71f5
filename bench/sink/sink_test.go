package sink_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/openbatch/openbatch/bench/sink"
)

func TestAzblobUploadAndMD5Mismatch(t *testing.T) {
	s := sink.New()
	base, stop, err := sink.Serve(s, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	cc, err := container.NewClientWithNoCredential(base+"/acct/c1?sv=2021-06-08&sp=rw&sig=anything", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("openbatch"), 100_000) // 900 kB: several 256 KiB blocks
	bb := cc.NewBlockBlobClient("dir/big.bin")
	var ids []string
	for i := 0; i < len(data); i += 256 << 10 {
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "block-%04d", i))
		part := data[i:min(i+256<<10, len(data))]
		sum := md5.Sum(part)
		if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(part)), &blockblob.StageBlockOptions{
			TransactionalValidation: blob.TransferValidationTypeMD5(sum[:])}); err != nil {
			t.Fatalf("put block: %v", err)
		}
		ids = append(ids, id)
	}
	if _, err := bb.CommitBlockList(ctx, ids, nil); err != nil {
		t.Fatalf("put block list: %v", err)
	}
	small := cc.NewBlockBlobClient("small.txt")
	if _, err := small.UploadBuffer(ctx, []byte("hello"), nil); err != nil {
		t.Fatalf("single upload: %v", err)
	}
	props, err := bb.GetProperties(ctx, nil)
	if err != nil || props.ContentLength == nil || *props.ContentLength != int64(len(data)) {
		t.Fatalf("properties: %v %v", err, props.ContentLength)
	}
	pager := cc.NewListBlobsFlatPager(nil)
	if _, err := pager.NextPage(ctx); err != nil {
		t.Fatalf("list: %v", err)
	}

	// A wrong Content-MD5 is refused.
	req, _ := http.NewRequest(http.MethodPut, base+"/acct/c1/bad.txt?sig=x", strings.NewReader("hello"))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("x-ms-error-code") != "Md5Mismatch" {
		t.Fatalf("MD5 mismatch: got %d %q", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
	st := s.Stats()
	if st.MD5Refused != 1 || st.MD5Verified < 4 || st.PutBlock < 4 || st.PutList != 1 || st.Bytes < int64(len(data)) {
		t.Fatalf("stats: %+v", st)
	}
}
