//go:build mpi

package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/internal/mpitest"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
)

// The tests below run 2 ranks of this test binary under mpirun (over
// loopback TCP) and compare with one process run here.

const envOut = "BSAMPOSE_MPI_OUT"

// TestMPIChild is one rank of a scenario "<kind>:<optim>"; it skips in a
// plain test run.
func TestMPIChild(t *testing.T) {
	sc := mpitest.Scenario()
	if sc == "" {
		t.Skip("only under mpirun (started by TestMPI*)")
	}
	kind, name, _ := strings.Cut(sc, ":")
	comm, err := dist.Open("mpi")
	if err != nil {
		t.Fatal(err)
	}
	c := distConfig(t, name)
	c.Out = os.Getenv(envOut)
	c.Comm = comm
	hashes, err := os.Create(filepath.Join(c.Out, fmt.Sprintf("hashes-%d.txt", comm.Rank())))
	if err != nil {
		t.Fatal(err)
	}
	var log paramLog
	stepHook = func(rank, step int, p []*optim.Param) {
		log.hook(rank, step, p)
		fmt.Fprintf(hashes, "%d %d\n", step, log.hashes[step][rank])
		if kind == "kill" && rank == 1 && step == 7 { // in the second epoch
			hashes.Close()
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	switch kind {
	case "exact":
		evalModeGrads = true
	case "local":
		c.SharpnessSync = "local"
	case "kill":
		c.Epochs = 2
	}
	if _, err := Run(context.Background(), c, ioDiscard{}); err != nil {
		t.Error(err)
	}
	hashes.Close()
	if err := comm.Close(); err != nil {
		t.Fatal(err)
	}
}

// readHashes returns step -> hash from a child's file.
func readHashes(t *testing.T, path string) map[int]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		s, h, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %q", path, line)
		}
		out[n] = h
	}
	return out
}

func launch(t *testing.T, scenario, out string) mpitest.Result {
	// The ranks use this process's GOMAXPROCS: the kernels split their
	// work by it, and with another split the float32 rounding differs.
	return mpitest.Launch(t, 2, scenario, 5*time.Minute, envOut+"="+out, fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0)))
}

func sameRanks(t *testing.T, out string, steps int) {
	t.Helper()
	h0, h1 := readHashes(t, filepath.Join(out, "hashes-0.txt")), readHashes(t, filepath.Join(out, "hashes-1.txt"))
	if len(h0) != steps || len(h1) != steps {
		t.Fatalf("ranks logged %d and %d steps, want %d", len(h0), len(h1), steps)
	}
	for s := 1; s <= steps; s++ {
		if h0[s] != h1[s] {
			t.Fatalf("step %d: the ranks' parameters differ", s)
		}
	}
}

// TestMPIExactEqualsOneProcess is TestDistExactEqualsOneProcess on 2 MPI
// ranks.
func TestMPIExactEqualsOneProcess(t *testing.T) {
	for _, name := range []string{"sgd", "adam", "sam", "bsam"} {
		t.Run(name, func(t *testing.T) {
			c := distConfig(t, name)
			evalModeGrads = true
			one, err := Run(context.Background(), c, ioDiscard{})
			evalModeGrads = false
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if r := launch(t, "exact:"+name, out); r.Err != nil {
				r.Fatal(t, "mpirun")
			}
			sameRanks(t, out, one.Steps)
			a := weights(t, filepath.Join(c.Out, "last.safetensors"))
			b := weights(t, filepath.Join(out, "last.safetensors"))
			worst := compareTensors(t, params(a), params(b), "", 2e-6, 1e-4)
			t.Logf("%s: %d steps on 2 MPI ranks, largest parameter difference from one process %.3g", name, one.Steps, worst)
		})
	}
}

// TestMPILocalEqualsGroups: m-sharpness on 2 MPI ranks equals one process
// with --sharpness-group batch/2, bit for bit in the parameters.
func TestMPILocalEqualsGroups(t *testing.T) {
	c := distConfig(t, "bsam")
	c.SharpnessGroup = c.BatchSize / 2
	one, err := Run(context.Background(), c, ioDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if r := launch(t, "local:bsam", out); r.Err != nil {
		r.Fatal(t, "mpirun")
	}
	sameRanks(t, out, one.Steps)
	a := weights(t, filepath.Join(c.Out, "last.safetensors"))
	b := weights(t, filepath.Join(out, "last.safetensors"))
	compareTensors(t, params(a), params(b), "", 0, 0)
	wb := compareTensors(t, buffers(a), buffers(b), "", 1e-6, 1e-5)
	t.Logf("%d steps: parameters bit for bit, batch-norm statistics within %.3g", one.Steps, wb)
}

// TestMPIKilledRankEndsJob: SIGKILL of rank 1 in the second epoch ends the
// job with a non-zero exit within seconds, and rank 0's last checkpoint
// (end of epoch 1) stays intact and loadable.
func TestMPIKilledRankEndsJob(t *testing.T) {
	out := t.TempDir()
	r := launch(t, "kill:sgd", out)
	if r.Err == nil {
		r.Fatal(t, "a rank was killed but mpirun exited 0")
	}
	h0 := readHashes(t, filepath.Join(out, "hashes-0.txt"))
	ck, err := pose.LoadCheckpoint(filepath.Join(out, "last.safetensors"))
	if err != nil {
		t.Fatalf("last checkpoint after the kill: %v", err)
	}
	if ck.Meta.Train == nil || ck.Meta.Train.Epoch != 1 {
		t.Fatalf("last checkpoint: %+v, want the end of epoch 1", ck.Meta.Train)
	}
	t.Logf("mpirun: %v after %.1fs (rank 0 reached step %d); last.safetensors holds epoch %d, step %d",
		r.Err, r.Elapsed.Seconds(), len(h0), ck.Meta.Train.Epoch, ck.Meta.Train.Step)
}
