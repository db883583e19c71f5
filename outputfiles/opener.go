package outputfiles

import (
	"fmt"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/local"
	"github.com/openbatch/openbatch/blob/s3"
)

// NewOpener returns the standard destination multiplexer: https and http
// URLs go to blob/azure configured by az, file URLs to blob/local.
func NewOpener(az azure.Options) (*blob.Mux, error) {
	ab, err := azure.New(az)
	if err != nil {
		return nil, fmt.Errorf("outputfiles: %w", err)
	}
	return blob.NewMux(map[string]blob.Opener{"https": ab, "http": ab, "file": local.New()}), nil
}

// NewOpenerWithS3 is NewOpener plus the S3-compatible backend blob/s3 when
// s3o is not nil: "s3://bucket/prefix" URLs, and http or https URLs whose
// host is s3o.Endpoint's, go to S3; other URLs as NewOpener routes them.
func NewOpenerWithS3(az azure.Options, s3o *s3.Options) (blob.Opener, error) {
	if s3o == nil {
		return NewOpener(az)
	}
	ab, err := azure.New(az)
	if err != nil {
		return nil, fmt.Errorf("outputfiles: %w", err)
	}
	sb, err := s3.New(*s3o)
	if err != nil {
		return nil, fmt.Errorf("outputfiles: %w", err)
	}
	web := sb.Route(ab)
	return blob.NewMux(map[string]blob.Opener{"https": web, "http": web, "s3": sb, "file": local.New()}), nil
}
