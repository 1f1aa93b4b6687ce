//go:build !mpi

package dist

// MPIBuilt reports whether this binary was built with the mpi tag.
const MPIBuilt = false

func openMPI() (Comm, error) { return nil, ErrNoMPI }
