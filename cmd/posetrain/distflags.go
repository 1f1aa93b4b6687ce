package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/train"
)

// distFlags registers the data-parallel flags of `posetrain train`. The
// returned function, called after fs.Parse, opens the communicator (MPI
// under `--dist mpi`) and stores it in cfg.Comm.
func distFlags(fs *flag.FlagSet, cfg *train.Config) (open func() (dist.Comm, error)) {
	engine := fs.String("dist", "none", "data parallelism: none | mpi (launch with `mpirun -np N --bind-to none posetrain --dist mpi ...`; needs a build with -tags mpi); --batch-size is the global batch")
	fs.StringVar(&cfg.SharpnessSync, "sharpness-sync", "global", "SAM/BSAM over ranks: global (exact: the perturbed points come from the global gradient) | local (m-sharpness: each rank perturbs with its own gradient, the directions are averaged)")
	fs.IntVar(&cfg.SharpnessGroup, "sharpness-group", 0, "m-sharpness group size m (images per perturbation; implies --sharpness-sync local; default with local: batch/ranks); on one process reproduces batch/m ranks in local mode")
	return func() (dist.Comm, error) {
		c, err := dist.Open(*engine)
		if err != nil {
			return nil, err
		}
		cfg.Comm = c
		return c, nil
	}
}

// endDist ends the rank's part of the job with the exit code: MPI_Finalize
// after success or an interruption (both reached by every rank together),
// MPI_Abort after an error, which may be this rank's alone (the other
// ranks would wait for it at their next collective).
func endDist(c dist.Comm, code int, stderr io.Writer) int {
	if c == nil || c.Size() == 1 {
		return code
	}
	if code == 0 || code == 130 {
		if err := c.Close(); err != nil {
			fmt.Fprintf(stderr, "posetrain: rank %d: %v\n", c.Rank(), err)
			return 1
		}
		return code
	}
	fmt.Fprintf(stderr, "posetrain: rank %d of %d failed (exit %d); aborting the job\n", c.Rank(), c.Size(), code)
	c.Abort(code)
	return code
}

// inRankOrder runs f on rank 0 first, then on the others (for work that
// writes a shared cache, such as generating the synthetic dataset).
func inRankOrder(c dist.Comm, f func() error) error {
	if c.Rank() == 0 {
		if err := f(); err != nil {
			return err
		}
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	if c.Rank() != 0 {
		return f()
	}
	return nil
}
