package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
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
	// Step 4 was logged after the checkpoint of step 3; resuming from that
	// checkpoint drops it from metrics.jsonl and logs each step once.
	lossHook = nil
	sum, err := Run(context.Background(), c, ioDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, c.Out)
	if len(m) != sum.Steps {
		t.Errorf("%d metrics lines for %d steps", len(m), sum.Steps)
	}
	for i, r := range m {
		if r.Step != i+1 {
			t.Fatalf("metrics line %d has step %d, want %d", i+1, r.Step, i+1)
		}
	}
	if len(sum.EpochLog) != 2 || sum.EpochLog[0].Epoch != 1 || sum.EpochLog[1].Epoch != 2 {
		t.Errorf("epoch log %+v, want epochs 1 and 2", sum.EpochLog)
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

// snapshot returns every file of dir with its content and modification
// time, to tell whether a call changed anything on disk.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = st.ModTime().String() + "\x00" + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s: %s was removed", what, p)
		} else if a != b {
			t.Errorf("%s: %s changed", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s was created", what, p)
		}
	}
}

func readMetrics(t *testing.T, dir string) []StepRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []StepRecord
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r StepRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func readSummaryFile(t *testing.T, dir string) *Summary {
	t.Helper()
	s, err := readSummary(dir)
	if err != nil || s == nil {
		t.Fatalf("summary.json of %s: %v", dir, err)
	}
	return s
}

// TestResumeFinishedRun resumes a finished one-epoch run: with the same
// settings (nothing is written, the stored summary comes back), with other
// settings (refused, one difference per field, nothing written), with
// fewer epochs (refused), then with twice the epochs (the run is extended:
// the first epoch's records are kept, the cosine LR continues on the curve
// of the new length).
func TestResumeFinishedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	ctx := context.Background()
	c := tinyConfig(t, "sgd")
	c.Epochs = 1
	first, err := Run(ctx, c, ioDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.EpochLog) != 1 || first.FinalLoss == 0 {
		t.Fatalf("first run: %+v", first)
	}
	c.Resume = true

	t.Run("complete", func(t *testing.T) {
		before := snapshot(t, c.Out)
		sum, err := Run(ctx, c, ioDiscard{})
		if !errors.Is(err, ErrComplete) {
			t.Fatalf("resuming a finished run: %v, want ErrComplete", err)
		}
		if sum == nil || !reflect.DeepEqual(sum.EpochLog, readSummaryFile(t, c.Out).EpochLog) || sum.FinalLoss != first.FinalLoss || sum.Steps != first.Steps {
			t.Errorf("summary %+v, want the stored one %+v", sum, first)
		}
		sameFiles(t, "resume of a finished run", before, snapshot(t, c.Out))
	})

	t.Run("other settings", func(t *testing.T) {
		before := snapshot(t, c.Out)
		o := c
		o.LR, o.BatchSize, o.Epochs = 2*c.LR, 4, 2
		_, err := Run(ctx, o, ioDiscard{})
		var me *MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("changed --lr and --batch-size: %v, want a *MismatchError", err)
		}
		if want := []string{"BatchSize", "LR"}; !reflect.DeepEqual(me.Fields, want) {
			t.Errorf("differing fields %q, want %q (Epochs may change)", me.Fields, want)
		}
		if me.Saved.LR != c.LR || me.Now.LR != o.LR {
			t.Errorf("saved LR %v, now %v; want %v, %v", me.Saved.LR, me.Now.LR, c.LR, o.LR)
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 3 || !strings.Contains(err.Error(), fmt.Sprintf("lr: checkpoint %v, now %v", c.LR, o.LR)) {
			t.Errorf("message %q: want a header and one line per field", err)
		}
		sameFiles(t, "refused resume", before, snapshot(t, c.Out))
	})

	t.Run("extend", func(t *testing.T) {
		m1 := readMetrics(t, c.Out)
		n := first.Steps
		if len(m1) != n {
			t.Fatalf("%d metrics lines for %d steps", len(m1), n)
		}
		early := filepath.Join(c.Out, "early.safetensors")
		if b, err := os.ReadFile(filepath.Join(c.Out, "last.safetensors")); err != nil || os.WriteFile(early, b, 0o644) != nil {
			t.Fatalf("copy of the epoch-1 checkpoint: %v", err)
		}
		o := c
		o.Epochs = 2
		sum, err := Run(ctx, o, ioDiscard{})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Epochs != 2 || sum.Steps != 2*n || len(sum.EpochLog) != 2 {
			t.Fatalf("extended run: epochs %d steps %d log %d; want 2, %d, 2", sum.Epochs, sum.Steps, len(sum.EpochLog), 2*n)
		}
		if !reflect.DeepEqual(sum.EpochLog[0], first.EpochLog[0]) {
			t.Errorf("epoch 1 record changed: %+v, was %+v", sum.EpochLog[0], first.EpochLog[0])
		}
		if got := readSummaryFile(t, c.Out); !reflect.DeepEqual(got.EpochLog, sum.EpochLog) {
			t.Errorf("summary.json epoch log %+v, want %+v", got.EpochLog, sum.EpochLog)
		}
		m2 := readMetrics(t, c.Out)
		if len(m2) != 2*n || !reflect.DeepEqual(m2[:n], m1) {
			t.Fatalf("metrics after extending: %d lines (want %d), first %d kept: %v", len(m2), 2*n, n, reflect.DeepEqual(m2[:min(n, len(m2))], m1))
		}
		for i, r := range m2 {
			// The cosine of the new length, evaluated at each step (no warm-up).
			want := c.LR * (1 + math.Cos(math.Pi*float64(i)/float64(2*n))) / 2
			if i >= n && math.Abs(r.LR-want) > 1e-12*c.LR {
				t.Errorf("step %d: LR %v, want %v (cosine over %d steps)", r.Step, r.LR, want, 2*n)
			}
			if r.Step != i+1 {
				t.Errorf("metrics line %d has step %d", i, r.Step)
			}
		}
		// Now done: resuming again changes nothing, and --epochs 1 would
		// end the run before what it has done.
		before := snapshot(t, c.Out)
		if _, err := Run(ctx, o, ioDiscard{}); !errors.Is(err, ErrComplete) {
			t.Errorf("resuming the extended run: %v, want ErrComplete", err)
		}
		if _, err := Run(ctx, c, ioDiscard{}); err == nil || !strings.Contains(err.Error(), "--epochs 1") {
			t.Errorf("resuming 2 done epochs with --epochs 1: %v, want a refusal naming --epochs 1", err)
		}
		// Continuing from the epoch-1 checkpoint would train epoch 2 again
		// over its records.
		back := o
		back.Epochs, back.ResumeFrom = 3, early
		if _, err := Run(ctx, back, ioDiscard{}); err == nil || !strings.Contains(err.Error(), "past this checkpoint") {
			t.Errorf("resuming from an earlier checkpoint of the run: %v, want a refusal", err)
		}
		sameFiles(t, "resume of the extended run", before, snapshot(t, c.Out))
	})
}

// TestInterruptKeepsEarlierEpochs: a run interrupted in its second epoch
// and resumed ends with both epochs in its summary (epochs.jsonl carries
// the first across the interruption).
func TestInterruptKeepsEarlierEpochs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	c := tinyConfig(t, "sgd")
	c.Epochs = 2
	ds, err := coco.Load(c.Ann)
	if err != nil {
		t.Fatal(err)
	}
	perEpoch := len(data.Items(ds, c.Images)) / c.BatchSize
	ctx, cancel := context.WithCancel(context.Background())
	lossHook = func(step int, loss float64) float64 {
		if step == perEpoch+1 {
			cancel()
		}
		return loss
	}
	defer func() { lossHook = nil }()
	if _, err := Run(ctx, c, ioDiscard{}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	lossHook = nil
	c.Resume = true
	sum, err := Run(context.Background(), c, ioDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.EpochLog) != 2 || sum.EpochLog[0].Epoch != 1 || sum.EpochLog[1].Epoch != 2 || sum.EpochLog[0].TrainLoss == 0 {
		t.Errorf("epoch log after an interruption in epoch 2: %+v, want epochs 1 and 2", sum.EpochLog)
	}
}
