#!/usr/bin/env bash
# The one command that runs every openbatch test: it installs what the
# tests need (scripts/setup.sh), then runs `go test ./...` with the
# end-to-end suites required (Azurite, the Azure CLI and the JS SDK must be
# present: a missing tool fails the run instead of skipping tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENBATCH_REQUIRE_E2E=1
# Test artifacts (the web console's browser screenshots) go here.
export OPENBATCH_ARTIFACTS="${OPENBATCH_ARTIFACTS:-$PWD/test-artifacts}"
go vet ./...
go test -timeout 20m "$@" ./...
