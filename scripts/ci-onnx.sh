#!/usr/bin/env bash
# ONNX export checks that need more than Go: onnxruntime-node runs the
# exported posenet-s and resnet18 models against the Go forward pass
# (pose/onnx TestOnnxRuntime, a skip is a failure here), and Debian's
# python3-onnx checker accepts a file written by `posetrain export`.
#
# Needs node and npm (Debian: nodejs npm) and python3 with the onnx module
# (Debian: python3-onnx). onnxruntime-node is installed from the npm
# registry, pinned, into the git-ignored .ort/ with --ignore-scripts: its
# postinstall would download GPU parts from outside the registry, and the
# CPU binary ships in the package itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.20.1
ORT_DIR="$PWD/.ort"

command -v node >/dev/null || { echo "ci-onnx: node is not installed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "ci-onnx: npm is not installed" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import onnx' || { echo "ci-onnx: $PY has no onnx module (Debian: apt-get install python3-onnx)" >&2; exit 1; }

have=$(node -p "try { require('$ORT_DIR/node_modules/onnxruntime-node/package.json').version } catch (e) { '' }")
if [ "$have" != "$ORT_VERSION" ]; then
  echo "== npm install onnxruntime-node@$ORT_VERSION (--ignore-scripts) into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  [ -f "$ORT_DIR/package.json" ] || echo '{"private": true}' > "$ORT_DIR/package.json"
  (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund --save-exact "onnxruntime-node@$ORT_VERSION")
fi

echo "== onnxruntime-node and onnx.checker against the Go forward pass"
BSAMPOSE_ORT_DIR="$ORT_DIR" BSAMPOSE_REQUIRE_ORT=1 BSAMPOSE_REQUIRE_ONNX_CHECKER=1 \
  go test -count=1 -v -run 'TestOnnxRuntime|TestCheckerPython' ./pose/onnx

echo "== posetrain export --format onnx on a trained checkpoint, checked by onnx.checker"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/posetrain" ./cmd/posetrain
"$tmp/posetrain" synth --out "$tmp/data" --n 8 --seed 1 >/dev/null
"$tmp/posetrain" --ann "$tmp/data/person_keypoints.json" --images "$tmp/data/images" \
  --input 64x32 --epochs 1 --max-steps 1 --batch-size 2 --workers 1 --out "$tmp/run" >/dev/null 2>&1
for opset in 17 13; do
  "$tmp/posetrain" export --model "$tmp/run/last.safetensors" --format onnx --opset "$opset" --out "$tmp/m$opset.onnx"
  "$PY" pose/onnx/testdata/check.py "$tmp/m$opset.onnx" >/dev/null
  echo "onnx.checker: opset $opset ok"
done
