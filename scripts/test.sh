#!/usr/bin/env bash
# The project's test command (README "Run the tests"). CI runs it through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== unit tests (host)"
go test -count=1 ./...

echo "== race detector on the concurrent packages"
go test -count=1 -race -short ./coco/ ./pose/data/ ./pose/kern/ ./optim/

echo "== wasm build and tests"
if [ -d cmd/posewasm ]; then GOOS=js GOARCH=wasm go build -o /dev/null ./cmd/posewasm; fi
wasm_pkgs=""
for p in ./heatmap ./coco ./optim ./pose/kern ./pose/infer; do [ -d "$p" ] && wasm_pkgs="$wasm_pkgs $p"; done
PATH="$PATH:$(go env GOROOT)/lib/wasm" GOOS=js GOARCH=wasm go test -count=1 $wasm_pkgs

echo "== fuzz targets (a few seconds each)"
fuzz() { # pkg target
  if grep -rqs "func $2(" "$1"/*_test.go; then
    go test -run XXX -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" "$1"
  fi
}
fuzz ./coco FuzzLoadAnnotations
fuzz ./heatmap FuzzDecode
