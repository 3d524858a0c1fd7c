#!/bin/bash
# Runs every test: unit tests, CLI scripts, and the end-to-end tests that
# deploy to a fleet of real Debian servers in containers on this machine.
#   sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

go vet ./...
go test -count=1 -timeout 50m -parallel 4 ./... "$@"
