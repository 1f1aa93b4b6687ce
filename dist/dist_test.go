package dist

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// exercise runs the collectives every Comm must get right and reports the
// first wrong result. It is shared by the Group test and the MPI test.
func exercise(c Comm) error {
	r, n := c.Rank(), c.Size()
	x := make([]float32, 1000)
	for i := range x {
		x[i] = float32(r*1000 + i)
	}
	if err := c.AllreduceSum32(x); err != nil {
		return err
	}
	for i, v := range x {
		want := float32(0)
		for q := range n {
			want += float32(q*1000 + i)
		}
		if v != want {
			return fmt.Errorf("dist: "+"AllreduceSum32: x[%d] = %v, want %v", i, v, want)
		}
	}
	y := []float64{float64(r) + 0.5, 1}
	if err := c.AllreduceSum64(y); err != nil {
		return err
	}
	if y[1] != float64(n) || y[0] != float64(n*(n-1))/2+0.5*float64(n) {
		return fmt.Errorf("dist: "+"AllreduceSum64 = %v", y)
	}
	root := n - 1
	b := []float32{float32(r), float32(r) * 2}
	if err := c.Bcast32(b, root); err != nil {
		return err
	}
	if b[0] != float32(root) || b[1] != float32(2*root) {
		return fmt.Errorf("dist: "+"Bcast32 = %v, want root %d's", b, root)
	}
	bs := []byte("rank?")
	if r == 0 {
		bs = []byte("hello")
	}
	if err := c.BcastBytes(bs, 0); err != nil {
		return err
	}
	if string(bs) != "hello" {
		return fmt.Errorf("dist: "+"BcastBytes = %q", bs)
	}
	if err := c.AllreduceSum32(nil); err != nil { // empty: no call, no error
		return err
	}
	return c.Barrier()
}

func TestSingle(t *testing.T) {
	c, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("rank %d size %d", c.Rank(), c.Size())
	}
	if err := exercise(c); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUnknown(t *testing.T) {
	if _, err := Open("nccl"); err == nil {
		t.Fatal("want an error for an unknown engine")
	}
}

func TestOpenMPIWithoutTag(t *testing.T) {
	if MPIBuilt {
		t.Skip("built with -tags mpi")
	}
	_, err := Open("mpi")
	if !errors.Is(err, ErrNoMPI) || !strings.Contains(err.Error(), "go build -tags mpi ./cmd/posetrain") {
		t.Fatalf("Open(mpi) = %v, want ErrNoMPI saying how to build", err)
	}
}

func TestGroup(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		cs := Group(n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for r, c := range cs {
			wg.Go(func() {
				for range 3 { // the barrier is reusable
					if errs[r] = exercise(c); errs[r] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Errorf("n=%d rank %d: %v", n, r, err)
			}
		}
	}
}

func TestGroupMismatch(t *testing.T) {
	cs := Group(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = cs[0].AllreduceSum32(make([]float32, 3)) })
	wg.Go(func() { errs[1] = cs[1].AllreduceSum32(make([]float32, 4)) })
	wg.Wait()
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("lengths 3 and 4: errors %v, %v", errs[0], errs[1])
	}
}

func TestGroupTimeout(t *testing.T) {
	old := GroupTimeout
	GroupTimeout = 50 * time.Millisecond
	defer func() { GroupTimeout = old }()
	cs := Group(2)
	if err := cs[0].Barrier(); err == nil { // rank 1 never comes
		t.Fatal("want a timeout error")
	}
}
