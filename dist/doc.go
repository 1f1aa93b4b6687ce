// Package dist is the collectives of data-parallel training: a Comm knows
// its rank and the group size and does in-place sum-allreduce of float32 and
// float64 slices, broadcast and barrier. Nothing else crosses processes.
//
// Three implementations share the interface:
//
//   - Single: one process (size 1, every collective a no-op). Open("") and
//     Open("none") return it; it is what the default, cgo-free build has.
//   - MPI (build tag mpi, cgo, pkg-config ompi): Open("mpi") initialises MPI
//     on one locked OS thread (MPI_THREAD_FUNNELED) and runs every MPI call
//     there. Without the tag Open("mpi") returns an error that says how to
//     build: go build -tags mpi ./cmd/posetrain.
//   - Group(n): n in-process ranks that meet through shared memory, for
//     tests and for checking a distributed algorithm on one process.
//
// Every rank must call the same collectives in the same order with the same
// lengths; Group reports a mismatch as an error, MPI may hang or fail.
//
// # Shapes
//
// Collectives work on flat slices; all ranks pass slices of equal length.
// Sums are element-wise; every rank receives bit-identical results.
//
// # References
//
// MPI 3.1 standard, sections 5.4 (MPI_Bcast), 5.9.6 (MPI_IN_PLACE
// allreduce), 12.4 (MPI_THREAD_FUNNELED). PyTorch DistributedSampler and
// DistributedDataParallel for the training semantics built on top (package
// train).
package dist
