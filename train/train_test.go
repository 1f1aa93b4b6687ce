package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/synth"
)

// tinyData generates a small synthetic train/val split once per test binary.
func tinyData(t *testing.T) (tr, va synth.Split) {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "bsampose-train-test-data")
	tr, va, err := synth.EnsureSplits(context.Background(), dir, 24, 8, 7, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	return tr, va
}

func tinyConfig(t *testing.T, optimName string) Config {
	tr, va := tinyData(t)
	c := Defaults()
	c.Ann, c.Images, c.ValAnn, c.ValImages = tr.Ann, tr.Images, va.Ann, va.Images
	c.InputH, c.InputW = 64, 32
	c.BatchSize = 8
	c.Epochs = 3
	c.Optim = optimName
	c.Workers = 2
	c.Out = t.TempDir()
	c.CacheMB = 64
	return c
}

func weights(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	ck, err := pose.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for n, v := range ck.Tensors {
		out[n] = v.Value
	}
	return out
}

func TestResumeEqualsUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three tiny runs")
	}
	for _, name := range []string{"adam", "bsam"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			full := tinyConfig(t, name)
			sum, err := Run(ctx, full, ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			steps := sum.Steps
			if steps < 4 {
				t.Fatalf("only %d steps", steps)
			}

			// Stop in the middle of an epoch, then resume.
			part := full
			part.Out = t.TempDir()
			part.MaxSteps = steps/2 + 1
			if _, err := Run(ctx, part, ioDiscard{}); err != nil {
				t.Fatal(err)
			}
			part.MaxSteps = 0
			part.Resume = true
			sum2, err := Run(ctx, part, ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			if sum2.Steps != steps {
				t.Fatalf("resumed run ended at step %d, uninterrupted at %d", sum2.Steps, steps)
			}
			a := weights(t, filepath.Join(full.Out, "last.safetensors"))
			b := weights(t, filepath.Join(part.Out, "last.safetensors"))
			if len(a) != len(b) {
				t.Fatalf("%d tensors vs %d", len(a), len(b))
			}
			for n, va := range a {
				vb, ok := b[n]
				if !ok {
					t.Fatalf("tensor %s missing after resume", n)
				}
				for i := range va {
					if va[i] != vb[i] {
						t.Fatalf("tensor %s[%d]: uninterrupted %v, resumed %v", n, i, va[i], vb[i])
					}
				}
			}
		})
	}
}

func TestSameSeedSameRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny runs")
	}
	c := tinyConfig(t, "sgd")
	c.Epochs = 1
	if _, err := Run(context.Background(), c, ioDiscard{}); err != nil {
		t.Fatal(err)
	}
	c2 := c
	c2.Out = t.TempDir()
	if _, err := Run(context.Background(), c2, ioDiscard{}); err != nil {
		t.Fatal(err)
	}
	a, b := weights(t, filepath.Join(c.Out, "last.safetensors")), weights(t, filepath.Join(c2.Out, "last.safetensors"))
	for n := range a {
		for i := range a[n] {
			if a[n][i] != b[n][i] {
				t.Fatalf("same seed, different %s[%d]", n, i)
			}
		}
	}
}

func TestNaNStopsAndKeepsLastCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	c := tinyConfig(t, "adam")
	c.Epochs = 2
	c.MaxSteps = 3 // one full epoch is 3 steps of 8 out of 24 persons or more
	if _, err := Run(context.Background(), c, ioDiscard{}); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(c.Out, "last.safetensors")
	before, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	lossHook = func(step int, loss float64) float64 {
		if step == 5 {
			return math.NaN()
		}
		return loss
	}
	defer func() { lossHook = nil }()
	c.MaxSteps = 0
	c.Resume = true
	_, err = Run(context.Background(), c, ioDiscard{})
	if err == nil || !strings.Contains(err.Error(), "step 5") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("want an error naming step 5 and NaN, got %v", err)
	}
	after, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("the last good checkpoint changed after a NaN stop")
	}
}

func TestInterruptSavesAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	c := tinyConfig(t, "sgd")
	c.Epochs = 2
	ctx, cancel := context.WithCancel(context.Background())
	lossHook = func(step int, loss float64) float64 {
		if step == 2 {
			cancel()
		}
		return loss
	}
	defer func() { lossHook = nil }()
	_, err := Run(ctx, c, ioDiscard{})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	ck, err := pose.LoadCheckpoint(filepath.Join(c.Out, "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta.Train == nil || ck.Meta.Train.Step != 2 {
		t.Fatalf("checkpoint after interrupt: %+v, want step 2", ck.Meta.Train)
	}
	lossHook = nil
	c.Resume = true
	sum, err := Run(context.Background(), c, ioDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 2 {
		t.Fatalf("resumed run finished %d epochs, want 2", sum.Epochs)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no ann", func(c *Config) { c.Ann = "" }, "--ann"},
		{"preset", func(c *Config) { c.Preset = "vgg" }, "unknown preset"},
		{"input", func(c *Config) { c.InputH, c.InputW = 130, 96 }, "multiples"},
		{"optim", func(c *Config) { c.Optim = "lion" }, "--optim"},
		{"base", func(c *Config) { c.Base = "rmsprop" }, "--base"},
		{"schedule", func(c *Config) { c.LRSchedule = "poly" }, "--lr-schedule"},
		{"lr", func(c *Config) { c.LR = 0 }, "--lr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Ann, c.Images = "a.json", "img"
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
