//go:build mpi

package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bsampose/bsampose/internal/mpitest"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/synth"
)

const envArgs = "BSAMPOSE_MPI_ARGS" // posetrain arguments, separated by \x1f

// TestMPIChild is one rank of `posetrain` under mpirun (started by the
// tests below); it skips in a plain test run.
func TestMPIChild(t *testing.T) {
	if mpitest.Scenario() == "" {
		t.Skip("only under mpirun (started by TestMPI*)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if code := run(ctx, strings.Split(os.Getenv(envArgs), "\x1f"), os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// TestMPIInterruptAndResume: Ctrl-C to mpirun during a 2-rank run stops
// both ranks after the same step, rank 0 saves, and the job ends within
// seconds; the same command with --resume finishes the run.
func TestMPIInterruptAndResume(t *testing.T) {
	dir := filepath.Join(os.TempDir(), "bsampose-cli-test-data")
	tr, _, err := synth.EnsureSplits(context.Background(), dir, 16, 6, 3, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := []string{"--dist", "mpi", "--ann", tr.Ann, "--images", tr.Images, "--input", "64x32",
		"--batch-size", "4", "--epochs", "40", "--optim", "bsam", "--base", "sgd", "--lr", "0.01",
		"--workers", "1", "--out", out}
	env := envArgs + "=" + strings.Join(args, "\x1f")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	j := mpitest.Start(t, ctx, 2, "posetrain", env)
	metrics := filepath.Join(out, "metrics.jsonl")
	for {
		b, _ := os.ReadFile(metrics)
		if strings.Count(string(b), "\n") >= 6 { // in the second epoch (4 steps each)
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no training progress")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t0 := time.Now()
	j.Cmd.Process.Signal(os.Interrupt)
	r := j.Wait()
	took := time.Since(t0)
	if r.Err == nil {
		r.Fatal(t, "mpirun exited 0 after Ctrl-C")
	}
	if took > 30*time.Second {
		r.Fatal(t, "the job took "+took.String()+" to stop")
	}
	if n := strings.Count(r.Output, "train: interrupted"); n != 2 {
		r.Fatal(t, "want both ranks interrupted")
	}
	ck, err := pose.LoadCheckpoint(filepath.Join(out, "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	saved := ck.Meta.Train.Step
	t.Logf("Ctrl-C: stopped in %.1fs (%v), saved at step %d", took.Seconds(), r.Err, saved)

	args = append(args, "--resume", "--max-steps", "12") // finish early (--max-steps is not in the resume check)
	r = mpitest.Launch(t, 2, "posetrain", 5*time.Minute, envArgs+"="+strings.Join(args, "\x1f"))
	if r.Err != nil {
		r.Fatal(t, "--resume")
	}
	if !strings.Contains(r.Output, "resuming") {
		r.Fatal(t, "rank 0 did not report resuming")
	}
	ck, err = pose.LoadCheckpoint(filepath.Join(out, "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta.Train.Step <= saved {
		t.Fatalf("resumed run ended at step %d, saved at %d", ck.Meta.Train.Step, saved)
	}
}
