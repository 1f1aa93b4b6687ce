#!/usr/bin/env bash
# Proves that the default amd64 kernel path runs on a CPU without AVX-512:
# builds the pose/kern test binary and runs it under Debian's qemu-user
# emulating a Haswell (AVX2+FMA, no AVX-512), where the start-up dispatch
# must pick "avx2" and any EVEX-encoded instruction on the path would stop
# the tests with SIGILL. It also checks the assembly of the AVX2 path for
# EVEX-only syntax (zmm, opmask, Y16-Y31, embedded broadcast or zeroing).
#
#   bash scripts/ci-qemu.sh
#
# Installs qemu-user with apt-get when qemu-x86_64 is missing (as root,
# or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-x86_64 >/dev/null 2>&1; then
	echo "ci-qemu: installing qemu-user" >&2
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
	$SUDO apt-get install -y qemu-user >/dev/null 2>&1 ||
		{ $SUDO apt-get update >/dev/null && $SUDO apt-get install -y qemu-user >/dev/null; }
fi

# 1. No EVEX syntax in the files the AVX2 and generic paths execute.
bad=$(grep -nE '\bZ([0-9]|[12][0-9]|3[01])\b|\bK[1-7]\b|\bY(1[6-9]|2[0-9]|3[01])\b|\bX(1[6-9]|2[0-9]|3[01])\b|\.BCST|\.Z\b|\.SAE|VPXORD|VPXORQ|\bKMOV' \
	pose/kern/gemm_amd64.s pose/kern/pack_amd64.s pose/kern/bn_amd64.s pose/kern/winograd_amd64.s || true)
if [ -n "$bad" ]; then
	echo "ci-qemu: EVEX-only instructions in the AVX2 path:" >&2
	echo "$bad" >&2
	exit 1
fi

# 2. The kernel tests on an emulated Haswell. Not TestWinoStore or TestDeal2:
# their inputs end at an inaccessible page, and qemu's VMASKMOVPS reads the
# whole vector (masked-off lanes fault there, unlike on a real CPU).
# TestWinoWeights runs: its filters, which also end at such a page, are read
# by VGATHERDPS, which qemu loads lane by lane under the mask.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/kern.test" ./pose/kern
echo "ci-qemu: running the pose/kern tests under qemu-x86_64 -cpu Haswell" >&2
status=0
BSAMPOSE_EXPECT_PATH=avx2 qemu-x86_64 -cpu Haswell "$tmp/kern.test" -test.short -test.count=1 -test.v \
	-test.run 'TestExpectedPath|TestTiles|TestSgemm$|TestConvForward$|TestConvBackward$|TestWinogradEntryPoints|TestWinogradConv|TestWinoWeights' >"$tmp/out" 2>&1 || status=$?
grep -E '^(--- |ok|PASS|FAIL)|kernel path|tile problems|SIGILL|illegal' "$tmp/out" >&2 || true
if [ "$status" != 0 ]; then
	tail -n 30 "$tmp/out" >&2
	echo "ci-qemu: FAILED under qemu (status $status)" >&2
	exit 1
fi
echo "ci-qemu: ok (dispatch chose avx2, no EVEX on the default path)" >&2
