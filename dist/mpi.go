//go:build mpi

package dist

/*
#cgo pkg-config: ompi
#include <stdlib.h>
#include <mpi.h>

// Open MPI can install backtrace handlers for SIGSEGV, SIGBUS, SIGFPE and
// SIGABRT (MCA opal_signal). It leaves signals that already have a handler
// alone, and the Go runtime has installed its own by now (the mpi test
// checks that a nil dereference still panics); unless the user set the
// parameter, ask it to trap nothing anyway.
static int shim_init(int *rank, int *size) {
	setenv("OMPI_MCA_opal_signal", "", 0);
	int provided = 0;
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
	if (rc != MPI_SUCCESS) return rc;
	if (provided < MPI_THREAD_FUNNELED) return -1;
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, size);
	return 0;
}
static int shim_allreduce_f32(float *x, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int shim_allreduce_f64(double *x, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static int shim_bcast_f32(float *x, int n, int root) {
	return MPI_Bcast(x, n, MPI_FLOAT, root, MPI_COMM_WORLD);
}
static int shim_bcast_bytes(void *x, int n, int root) {
	return MPI_Bcast(x, n, MPI_BYTE, root, MPI_COMM_WORLD);
}
static int shim_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static int shim_finalize(void) { return MPI_Finalize(); }
static int shim_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// MPIBuilt reports whether this binary was built with the mpi tag.
const MPIBuilt = true

// maxCount bounds the element count of one MPI call (the C API counts in
// int); longer slices go in chunks.
const maxCount = 1 << 28

// mpiComm runs every MPI call on one goroutine locked to the OS thread
// that called MPI_Init_thread (MPI_THREAD_FUNNELED: only that thread may
// call MPI).
type mpiComm struct {
	rank, size int
	calls      chan func()
	closed     bool
}

var mpiOnce sync.Once

func openMPI() (Comm, error) {
	var c *mpiComm
	var err error
	called := false
	mpiOnce.Do(func() {
		called = true
		c = &mpiComm{calls: make(chan func())}
		ready := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread stays MPI's
			var rank, size C.int
			if rc := C.shim_init(&rank, &size); rc != 0 {
				ready <- fmt.Errorf("dist: MPI_Init_thread failed (code %d; run under mpirun, and see the README section on MPI)", int(rc))
				return
			}
			c.rank, c.size = int(rank), int(size)
			ready <- nil
			for f := range c.calls {
				f()
			}
		}()
		err = <-ready
	})
	if !called {
		return nil, fmt.Errorf("dist: MPI already opened in this process")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// do runs f on the MPI thread and returns its error code as an error.
func (c *mpiComm) do(name string, f func() C.int) error {
	if c.closed {
		return fmt.Errorf("dist: %s after Close", name)
	}
	done := make(chan C.int)
	c.calls <- func() { done <- f() }
	if rc := <-done; rc != C.MPI_SUCCESS {
		return fmt.Errorf("dist: %s failed (MPI error %d)", name, int(rc))
	}
	return nil
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

func (c *mpiComm) AllreduceSum32(x []float32) error {
	for len(x) > 0 {
		n := min(len(x), maxCount)
		p := (*C.float)(unsafe.Pointer(&x[0]))
		if err := c.do("MPI_Allreduce", func() C.int { return C.shim_allreduce_f32(p, C.int(n)) }); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func (c *mpiComm) AllreduceSum64(x []float64) error {
	for len(x) > 0 {
		n := min(len(x), maxCount)
		p := (*C.double)(unsafe.Pointer(&x[0]))
		if err := c.do("MPI_Allreduce", func() C.int { return C.shim_allreduce_f64(p, C.int(n)) }); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func (c *mpiComm) Bcast32(x []float32, root int) error {
	checkRoot(root, c.size)
	for len(x) > 0 {
		n := min(len(x), maxCount)
		p := (*C.float)(unsafe.Pointer(&x[0]))
		if err := c.do("MPI_Bcast", func() C.int { return C.shim_bcast_f32(p, C.int(n), C.int(root)) }); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func (c *mpiComm) BcastBytes(x []byte, root int) error {
	checkRoot(root, c.size)
	for len(x) > 0 {
		n := min(len(x), maxCount)
		p := unsafe.Pointer(&x[0])
		if err := c.do("MPI_Bcast", func() C.int { return C.shim_bcast_bytes(p, C.int(n), C.int(root)) }); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func (c *mpiComm) Barrier() error {
	return c.do("MPI_Barrier", func() C.int { return C.shim_barrier() })
}

func (c *mpiComm) Close() error {
	if c.closed {
		return nil
	}
	err := c.do("MPI_Finalize", func() C.int { return C.shim_finalize() })
	c.closed = true
	return err
}

func (c *mpiComm) Abort(code int) {
	if c.closed {
		return
	}
	c.calls <- func() { C.shim_abort(C.int(code)) }
	select {} // MPI_Abort does not return
}
