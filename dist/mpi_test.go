//go:build mpi

package dist

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bsampose/bsampose/internal/mpitest"
)

// TestMPIChild is one rank of a scenario started by the tests below; it
// skips in a plain test run.
func TestMPIChild(t *testing.T) {
	sc := mpitest.Scenario()
	if sc == "" {
		t.Skip("only under mpirun (started by TestMPI*)")
	}
	c, err := Open("mpi")
	if err != nil {
		t.Fatal(err)
	}
	switch sc {
	case "collectives":
		if err := exercise(c); err != nil {
			t.Error(err)
		}
		// A Go nil dereference must still be a recoverable panic after
		// MPI_Init (Open MPI's signal handlers are off).
		func() {
			defer func() { recover() }()
			var p *int
			_ = *p
		}()
	case "die":
		// Rank 1 dies in the middle; rank 0 waits in a collective that
		// never completes.
		if c.Rank() == 1 {
			os.Exit(3)
		}
		c.Barrier()
		time.Sleep(time.Minute)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMPICollectives(t *testing.T) {
	for _, np := range []int{2, 3} {
		r := mpitest.Launch(t, np, "collectives", 2*time.Minute)
		if r.Err != nil {
			r.Fatal(t, "collectives")
		}
		if n := strings.Count(r.Output, "--- PASS: TestMPIChild"); n != np {
			r.Fatal(t, "want every rank to pass")
		}
	}
}

func TestMPIRankDeathEndsJob(t *testing.T) {
	r := mpitest.Launch(t, 2, "die", 2*time.Minute)
	if r.Err == nil {
		r.Fatal(t, "a rank exited 3 but mpirun exited 0")
	}
	if r.Elapsed > 30*time.Second {
		r.Fatal(t, "the job took "+r.Elapsed.String()+" to end after a rank died")
	}
	t.Logf("mpirun exited (%v) %.1fs after the start", r.Err, r.Elapsed.Seconds())
}
