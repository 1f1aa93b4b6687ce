#!/usr/bin/env bash
# Proves that an installed posetrain serves from any folder (issue 12):
# installs ./cmd/posetrain into a temporary GOBIN, makes a checkpoint with a
# tiny training run, then, from a temporary folder outside any Go module and
# with module downloads switched off, runs `posetrain serve` (which builds
# the wasm from the source embedded in the binary into a fresh cache),
# fetches the page, the wasm and a prediction, stops it with SIGTERM and
# checks that it exits 0. Loopback only; every wait is bounded.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "ci-install: $*" >&2
	[ -f "$work/run/serve.log" ] && sed 's/^/  serve: /' "$work/run/serve.log" >&2
	exit 1
}

echo "== go install ./cmd/posetrain into a temporary GOBIN"
export GOBIN="$work/bin"
(cd "$repo" && go install ./cmd/posetrain)
bin="$GOBIN/posetrain"
[ -x "$bin" ] || fail "no binary at $bin"

mkdir "$work/run"
cd "$work/run"
if [ "$(go env GOMOD)" != "/dev/null" ] && [ -n "$(go env GOMOD)" ]; then
	fail "$work/run is inside a Go module ($(go env GOMOD)): not a test of serving from anywhere"
fi

echo "== a checkpoint from a tiny training run"
"$bin" synth --out data --n 8 --val 4 --min-size 96 --max-size 128 >/dev/null 2>synth.log || { cat synth.log >&2; fail "synth failed"; }
"$bin" --ann data/train/person_keypoints.json --images data/train/images \
	--val-ann data/val/person_keypoints.json --val-images data/val/images \
	--input 64x32 --epochs 1 --batch-size 4 --max-steps 2 --out ckpt >/dev/null 2>train.log || { cat train.log >&2; fail "training failed"; }
model="$work/run/ckpt/last.safetensors"
[ -f "$model" ] || fail "no checkpoint at $model"

echo "== posetrain serve from $work/run"
GOPROXY=off "$bin" serve --model "$model" --addr 127.0.0.1:0 --cache-dir "$work/cache" 2>serve.log &
pid=$!
url=""
for _ in $(seq 1 600); do # up to 5 minutes: the first wasm build
	url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' serve.log | head -n 1 || true)
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || fail "serve exited before listening"
	sleep 0.5
done
[ -n "$url" ] || fail "serve announced no URL"

curl -fsS --max-time 30 "$url" -o page.html || fail "GET / failed"
grep -q bsampose page.html || fail "GET / is not the demo page"
ctype=$(curl -fsS --max-time 60 -o posewasm.wasm -w '%{content_type}' "${url}posewasm.wasm") || fail "GET /posewasm.wasm failed"
[ "$ctype" = application/wasm ] || fail "posewasm.wasm served as $ctype"
[ "$(head -c 4 posewasm.wasm | od -An -tx1 | tr -d ' \n')" = 0061736d ] || fail "posewasm.wasm is not a wasm module"
size=$(wc -c <posewasm.wasm)
[ "$size" -gt 100000 ] || fail "posewasm.wasm is only $size bytes"
img=$(ls data/val/images/*.jpg | head -n 1)
curl -fsS --max-time 60 -F "image=@$img" "${url}api/predict" -o predict.json || fail "POST /api/predict failed"
grep -q '"keypoints"' predict.json || fail "POST /api/predict answered $(cat predict.json)"

echo "== SIGTERM"
kill -TERM "$pid"
rc=0
for _ in $(seq 1 120); do # up to a minute
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
kill -0 "$pid" 2>/dev/null && fail "serve still running a minute after SIGTERM"
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
echo "ok: installed posetrain served from $work/run (wasm $size bytes) and exited 0 on SIGTERM"
