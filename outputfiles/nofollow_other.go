//go:build !unix

package outputfiles

// oNoFollow is not available on this platform.
const oNoFollow = 0
