#!/usr/bin/env bash
# openbatch's benchmark harness: the one documented command (`make bench`).
#
#   bash bench/run.sh            # the full run (≈30 min on 2 cores); writes bench/out/results.json
#   bash bench/run.sh -quick     # a smoke run with small sizes (≈2 min)
#   bash bench/run.sh -only uploads -endpoints sink -runs 3   # any obbench flag passes through
#   bash bench/run.sh -only scale,bigjob -bigjob 1000000      # servers on SQLite/PostgreSQL (make bench-scale)
#   bash bench/run.sh -only autoscale                          # pool 0 → 50 agent processes → 0 (make bench-autoscale)
#
# It installs its own peers when missing: azcopy (npm @azure-tools/azcopy-linux,
# pinned in bench/node/package-lock.json, installed with `npm ci`), the Azure CLI
# (Debian package azure-cli) and Azurite (tools/node, via scripts/setup.sh);
# builds openbatch and the driver (bench/cmd/obbench); runs the driver; and
# runs the Go micro-benchmarks of the hot paths unless -only/-quick is given
# (set GOBENCH=0 to skip them, GOBENCH=1 to force them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=bench/out
mkdir -p "$out"

need_sudo() { if [ "$(id -u)" -ne 0 ]; then echo sudo; fi; }

# Peers.
if ! command -v az >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 || [ ! -x tools/node/node_modules/.bin/azurite-blob ]; then
  bash scripts/setup.sh   # az (apt-get install -y azure-cli), node/npm, Azurite (tools/node)
fi
stamp=bench/node/node_modules/.openbatch-lock
if [ ! -f "$stamp" ] || ! cmp -s bench/node/package-lock.json "$stamp"; then
  echo "bench: installing pinned azcopy (npm ci in bench/node)..."
  (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
  cp bench/node/package-lock.json "$stamp"
fi
azcopy=$root/bench/node/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64
chmod +x "$azcopy"   # the package installs it without the execute bit

# Builds.
echo "bench: building openbatch and the driver..."
go build -o "$out/openbatch" ./cmd/openbatch
go build -o "$out/obbench" ./bench/cmd/obbench

echo "bench: $(nproc) CPUs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$out/obbench" -openbatch "$root/$out/openbatch" -azcopy "$azcopy" -az "$(command -v az)" -out "$out/results.json" "$@" \
  | tee "$out/table.txt"

gobench=${GOBENCH:-auto}
if [ "$gobench" = auto ]; then
  gobench=1
  for a in "$@"; do case "$a" in -quick|--quick|-only|--only|-only=*|--only=*) gobench=0 ;; esac; done
fi
if [ "$gobench" = 1 ]; then
  echo
  echo "Go benchmarks of the hot paths (go test -run '^\$' -bench . -benchmem):"
  go test -run '^$' -bench . -benchmem ./outputfiles ./sharedkey ./internal/odata ./internal/lifecycle 2>&1 \
    | tee "$out/gobench.txt"
fi
echo "bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
