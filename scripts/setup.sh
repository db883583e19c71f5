#!/usr/bin/env bash
# Installs everything openbatch's tests need on a fresh Debian machine:
#   - the Azure CLI (Debian package azure-cli) and the Python Batch SDK it
#     depends on (python3-azure), for the end-to-end tests;
#   - PostgreSQL 15 (Debian package postgresql-15), started by the tests;
#   - Chromium (Debian package chromium), driven headless by the web
#     console's browser test (no browser is ever downloaded);
#   - Slurm 22.05 and munge (Debian packages slurm-wlm, munge), for the
#     Slurm node provider's test, which starts its own one-host cluster
#     (nothing is configured or started system-wide);
#   - the pinned npm packages in tools/node (Azurite, @azure/batch,
#     playwright-core).
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_sudo() { if [ "$(id -u)" -ne 0 ]; then echo sudo; fi; }

if ! command -v az >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import azure.batch' >/dev/null 2>&1; then
  echo "setup: installing the Azure CLI and the Python Batch SDK (Debian packages azure-cli, python3-azure)..."
  $(need_sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_sudo) apt-get install -y -qq azure-cli python3-azure >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Node.js and npm (Debian packages)..."
  $(need_sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_sudo) apt-get install -y -qq nodejs npm >/dev/null
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing PostgreSQL (Debian package postgresql-15), for the store and several-server tests..."
  $(need_sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_sudo) apt-get install -y -qq postgresql-15 >/dev/null
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium (Debian package chromium), for the web console's browser test..."
  $(need_sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_sudo) apt-get install -y -qq chromium >/dev/null
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "setup: installing Slurm and munge (Debian packages slurm-wlm, munge), for the Slurm node provider test..."
  $(need_sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_sudo) apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

stamp=tools/node/node_modules/.openbatch-lock
if [ ! -f "$stamp" ] || ! cmp -s tools/node/package-lock.json "$stamp"; then
  echo "setup: installing pinned npm packages in tools/node..."
  (cd tools/node && npm ci --no-audit --no-fund --loglevel=error)
  cp tools/node/package-lock.json "$stamp"
fi
echo "setup: done (az $(az version --query '"azure-cli"' -o tsv 2>/dev/null), node $(node --version))"
