// Package e2e holds end-to-end tests that drive the real official Azure
// Batch clients — the Azure CLI (`az batch`) and the @azure/batch JS SDK —
// as subprocesses against a running `openbatch dev` process, plus a
// 10,000-task scale test with a restart on the same data directory.
//
// The clients are installed by scripts/setup.sh, not by the tests. When one
// is missing its tests are skipped, or fail when OPENBATCH_REQUIRE_E2E=1.
//
//	go test ./test/e2e/...            # everything (about 2–3 minutes)
//	go test -short ./test/e2e/...     # without the 10k-task scale test
//	OPENBATCH_BENCH_OUT=bench.txt go test -run Scale -v ./test/e2e/...
package e2e
