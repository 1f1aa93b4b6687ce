#!/usr/bin/env bash
# The MPI tests (README "Training on several machines"): installs Open MPI if
# missing, then runs the -tags mpi tests, which start 2 (and 3) ranks under
# mpirun over loopback TCP. The default `go test ./...` needs no MPI.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v mpirun >/dev/null 2>&1 || ! pkg-config --exists ompi 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq openmpi-bin libopenmpi-dev pkg-config >/dev/null
fi
# CI runs as root; Open MPI refuses that unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --version | head -1
echo "== vet and build with -tags mpi"
go vet -tags mpi ./dist ./train ./cmd/posetrain
go build -tags mpi -o /dev/null ./cmd/posetrain
echo "== MPI tests (2 and 3 ranks over loopback)"
go test -tags mpi -count=1 -run 'MPI' ./dist ./train ./cmd/posetrain
