#!/usr/bin/env bash
# The project's test command (README "Run the tests"). CI runs it through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== unit tests (host)"
go test -count=1 ./...

echo "== race detector on the concurrent packages"
go test -count=1 -race -short ./coco/ ./pose/data/ ./pose/kern/ ./optim/ ./dist/

echo "== wasm build and tests"
if [ -d cmd/posewasm ]; then GOOS=js GOARCH=wasm go build -o /dev/null ./cmd/posewasm; fi
wasm_pkgs=""
for p in ./heatmap ./coco ./optim ./pose/kern ./pose/geom ./pose/arch ./pose/infer; do [ -d "$p" ] && wasm_pkgs="$wasm_pkgs $p"; done
PATH="$PATH:$(go env GOROOT)/lib/wasm" GOOS=js GOARCH=wasm go test -count=1 $wasm_pkgs

echo "== fuzz targets (a few seconds each)"
# Budgets are execution counts, not durations: a duration -fuzztime races Go's
# fuzz coordinator at the deadline and fails with a bare "context deadline
# exceeded" on a loaded machine (golang/go#51484, #75804). A count has no
# deadline to race. FUZZTIME overrides (e.g. FUZZTIME=60s for a long local run).
fuzz() { # pkg target execs
  if grep -rqs "func $2(" "$1"/*_test.go; then
    go test -run XXX -fuzz "^$2\$" -fuzztime "${FUZZTIME:-$3}" "$1"
  fi
}
fuzz ./coco FuzzLoadAnnotations 20000x
fuzz ./heatmap FuzzDecode 60000x
fuzz ./pose/geom FuzzWarp 5000x
fuzz ./pose/infer FuzzParseHeader 20000x
