package dist

import (
	"errors"
	"fmt"
)

// Comm is a group of processes (ranks) that train together.
//
// Collectives block until every rank has made the same call. The slices are
// updated in place; they must have the same length on every rank. Methods
// are not safe for concurrent use: a training loop calls them from one
// goroutine.
type Comm interface {
	Rank() int // 0 <= Rank() < Size()
	Size() int

	// AllreduceSum32 replaces x on every rank by the element-wise sum of
	// every rank's x.
	AllreduceSum32(x []float32) error
	// AllreduceSum64 is AllreduceSum32 for float64.
	AllreduceSum64(x []float64) error
	// Bcast32 copies root's x into every rank's x.
	Bcast32(x []float32, root int) error
	// BcastBytes copies root's x into every rank's x.
	BcastBytes(x []byte, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error

	// Close ends the rank's participation (MPI_Finalize) after a successful
	// run; every rank must call it.
	Close() error
	// Abort ends the whole job with the exit code (MPI_Abort) when this
	// rank fails alone and the others would otherwise wait for it. For
	// Single and Group it does nothing and the caller exits.
	Abort(code int)
}

// ErrNoMPI is returned by Open("mpi") in a build without the mpi tag.
var ErrNoMPI = errors.New("dist: --dist mpi needs a build with MPI: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and build with `go build -tags mpi ./cmd/posetrain` (cgo, pkg-config ompi); then launch with `mpirun -np N --bind-to none posetrain --dist mpi ...`")

// Open returns the communicator of an engine: "" or "none" gives Single,
// "mpi" initialises MPI (build tag mpi; ErrNoMPI otherwise). Open("mpi")
// must be called at most once per process.
func Open(engine string) (Comm, error) {
	switch engine {
	case "", "none":
		return Single{}, nil
	case "mpi":
		return openMPI()
	}
	return nil, fmt.Errorf("dist: unknown engine %q (want none or mpi)", engine)
}

// Single is a group of one process: every collective leaves its argument
// unchanged.
type Single struct{}

func (Single) Rank() int                      { return 0 }
func (Single) Size() int                      { return 1 }
func (Single) AllreduceSum32([]float32) error { return nil }
func (Single) AllreduceSum64([]float64) error { return nil }
func (Single) Bcast32([]float32, int) error   { return nil }
func (Single) BcastBytes([]byte, int) error   { return nil }
func (Single) Barrier() error                 { return nil }
func (Single) Close() error                   { return nil }
func (Single) Abort(int)                      {}

var _ Comm = Single{}

// checkRoot panics if root is not a rank of a group of size n.
func checkRoot(root, n int) {
	if root < 0 || root >= n {
		panic(fmt.Sprintf("dist: root %d outside [0, %d)", root, n))
	}
}
