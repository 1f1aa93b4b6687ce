#!/bin/sh
# Builds the browser inference bundle into web/static (or $1):
#   posewasm.wasm       cmd/posewasm, GOOS=js GOARCH=wasm
#   posewasm-simd.wasm  the SIMD128 GEMM + im2col module, assembled by Go (pose/infer/simd)
#   posewasm-simd-relaxed.wasm  the same with relaxed-SIMD FMA (used when the browser validates it)
#   wasm_exec.js        the loader of the Go that built posewasm.wasm
# All are git-ignored build outputs (*.wasm, wasm_exec.js). posewasm.js is committed.
set -eu
cd "$(dirname "$0")/.."
out=${1:-web/static}
mkdir -p "$out"
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$out/posewasm.wasm" ./cmd/posewasm
go run ./pose/infer/internal/simdgen -o "$out/posewasm-simd.wasm" -relaxed "$out/posewasm-simd-relaxed.wasm"
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
for f in posewasm.wasm posewasm-simd.wasm posewasm-simd-relaxed.wasm wasm_exec.js posewasm.js; do
	[ -f "$out/$f" ] && printf '%-20s %9d bytes, %8d gzip -9\n' "$f" "$(wc -c <"$out/$f")" "$(gzip -9 -c "$out/$f" | wc -c)" >&2
done
