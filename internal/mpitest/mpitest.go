// Package mpitest runs a test binary's own child test under mpirun, for the
// -tags mpi tests of dist and train: the parent test calls Launch, which
// starts `mpirun -np N ... <this test binary> -test.run '^TestMPIChild$'`
// with the scenario in the environment; TestMPIChild calls Scenario to
// learn which part to play. It imports only the standard library.
package mpitest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// EnvScenario names the scenario a child rank runs.
const EnvScenario = "BSAMPOSE_MPI_SCENARIO"

// Scenario returns the scenario of this child process, or "" in the parent.
func Scenario() string { return os.Getenv(EnvScenario) }

// Result is what one mpirun invocation did.
type Result struct {
	Output  string // stdout and stderr of mpirun and every rank
	Err     error  // nil: every rank exited 0
	Elapsed time.Duration
}

// Launch runs np ranks of the current test binary's TestMPIChild with the
// scenario and extra environment (KEY=VALUE), over loopback TCP (btl
// tcp,self on lo, as between machines), and waits at most timeout. It
// skips the test when mpirun is not installed. As root it sets Open MPI's
// OMPI_ALLOW_RUN_AS_ROOT variables.
func Launch(t testing.TB, np int, scenario string, timeout time.Duration, env ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	j := Start(t, ctx, np, scenario, env...)
	r := j.Wait()
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("mpirun did not finish within %v: %w", timeout, ctx.Err())
	}
	return r
}

// Job is a running mpirun.
type Job struct {
	Cmd   *exec.Cmd
	out   bytes.Buffer
	start time.Time
}

// Start is Launch without the wait: the job is killed when ctx ends.
func Start(t testing.TB, ctx context.Context, np int, scenario string, env ...string) *Job {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")
	}
	args := []string{"-np", fmt.Sprint(np), "--oversubscribe", "--bind-to", "none",
		"--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
		os.Args[0], "-test.run", "^TestMPIChild$", "-test.v", "-test.count=1"}
	j := &Job{Cmd: exec.CommandContext(ctx, mpirun, args...)}
	j.Cmd.Env = append(os.Environ(), EnvScenario+"="+scenario)
	if os.Getuid() == 0 {
		j.Cmd.Env = append(j.Cmd.Env, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	}
	j.Cmd.Env = append(j.Cmd.Env, env...)
	j.Cmd.Stdout, j.Cmd.Stderr = &j.out, &j.out
	j.start = time.Now()
	if err := j.Cmd.Start(); err != nil {
		t.Fatalf("start mpirun: %v", err)
	}
	return j
}

// Wait waits for the job to end.
func (j *Job) Wait() Result {
	err := j.Cmd.Wait()
	return Result{Output: j.out.String(), Err: err, Elapsed: time.Since(j.start)}
}

// Fatal fails t with the result's output, indented.
func (r Result) Fatal(t testing.TB, msg string) {
	t.Helper()
	t.Fatalf("%s: %v\n%s", msg, r.Err, "  "+strings.ReplaceAll(strings.TrimSpace(r.Output), "\n", "\n  "))
}
