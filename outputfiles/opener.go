package outputfiles

import (
	"fmt"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/local"
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
