package train

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
)

// paramLog records, per step, a hash of every rank's parameters.
type paramLog struct {
	mu     sync.Mutex
	hashes map[int]map[int]uint64 // step -> rank -> hash
}

func (l *paramLog) hook(rank, step int, params []*optim.Param) {
	h := fnv.New64a()
	var b [4]byte
	for _, p := range params {
		for _, v := range p.Value {
			u := math.Float32bits(v)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hashes == nil {
		l.hashes = map[int]map[int]uint64{}
	}
	if l.hashes[step] == nil {
		l.hashes[step] = map[int]uint64{}
	}
	l.hashes[step][rank] = h.Sum64()
}

// sameAcrossRanks fails t unless every step has n ranks with one hash.
func (l *paramLog) sameAcrossRanks(t *testing.T, n, steps int) {
	t.Helper()
	for s := 1; s <= steps; s++ {
		hs := l.hashes[s]
		if len(hs) != n {
			t.Fatalf("step %d: %d ranks reported, want %d", s, len(hs), n)
		}
		for r := 1; r < n; r++ {
			if hs[r] != hs[0] {
				t.Fatalf("step %d: rank %d's parameters differ from rank 0's", s, r)
			}
		}
	}
}

// runRanks runs cfg on n in-process ranks (dist.Group) and returns each
// rank's summary and error. ctxs, if not nil, gives each rank its context.
func runRanks(n int, cfg Config, ctxs []context.Context) ([]*Summary, []error) {
	comms := dist.Group(n)
	sums, errs := make([]*Summary, n), make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		c := cfg
		c.Comm = comms[r]
		ctx := context.Background()
		if ctxs != nil {
			ctx = ctxs[r]
		}
		wg.Go(func() { sums[r], errs[r] = Run(ctx, c, ioDiscard{}) })
	}
	wg.Wait()
	return sums, errs
}

func distConfig(t *testing.T, optimName string) Config {
	c := tinyConfig(t, optimName)
	c.ValAnn, c.ValImages = "", ""
	c.Epochs = 1
	c.Workers = 1
	c.Base = "sgd"
	c.LR = 0.05
	c.RhoMax, c.RhoMin = 0.05, 0.05 // large enough that the perturbed points matter
	return c
}

// compareTensors fails t when a tensor of b differs from a by more than
// atol + rtol·|a| (rtol = atol = 0: bit for bit). It returns the largest
// difference.
func compareTensors(t *testing.T, a, b map[string][]float32, prefix string, atol, rtol float64) float64 {
	t.Helper()
	worst := 0.0
	for name, va := range a {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		vb, ok := b[name]
		if !ok || len(vb) != len(va) {
			t.Fatalf("tensor %s missing or resized", name)
		}
		for i := range va {
			d := math.Abs(float64(va[i]) - float64(vb[i]))
			worst = max(worst, d)
			if d > atol+rtol*math.Abs(float64(va[i])) {
				t.Fatalf("%s[%d]: %v vs %v (|d| = %g)", name, i, va[i], vb[i], d)
			}
		}
	}
	return worst
}

// isParam reports whether a checkpoint tensor is a trainable parameter
// (not a batch-norm statistic or optimizer state).
func params(ts map[string][]float32) map[string][]float32 {
	out := map[string][]float32{}
	for n, v := range ts {
		if !strings.HasPrefix(n, "optim.") && !strings.Contains(n, "running_") {
			out[n] = v
		}
	}
	return out
}

func buffers(ts map[string][]float32) map[string][]float32 {
	out := map[string][]float32{}
	for n, v := range ts {
		if strings.Contains(n, "running_") {
			out[n] = v
		}
	}
	return out
}

// TestDistExactEqualsOneProcess: 2 ranks at 4 images each equal one
// process at 8 for every optimizer, with batch norm in eval mode (the loss
// is then a mean over samples; in training mode each rank normalises by its
// own batch, as the reference trainers do, and the runs differ by design).
// The ranks' parameters are identical after every step.
func TestDistExactEqualsOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny runs")
	}
	evalModeGrads = true
	defer func() { evalModeGrads = false }()
	for _, name := range []string{"sgd", "adam", "sam", "bsam"} {
		t.Run(name, func(t *testing.T) {
			c := distConfig(t, name)
			if name == "adam" {
				c.LR = 1e-3
			}
			one, err := Run(context.Background(), c, ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			var log paramLog
			stepHook = log.hook
			defer func() { stepHook = nil }()
			c2 := c
			c2.Out = t.TempDir()
			sums, errs := runRanks(2, c2, nil)
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			if sums[0].Steps != one.Steps || one.Steps < 3 {
				t.Fatalf("2 ranks: %d steps, one process %d", sums[0].Steps, one.Steps)
			}
			log.sameAcrossRanks(t, 2, one.Steps)
			a := weights(t, filepath.Join(c.Out, "last.safetensors"))
			b := weights(t, filepath.Join(c2.Out, "last.safetensors"))
			worst := compareTensors(t, params(a), params(b), "", 2e-6, 1e-4)
			t.Logf("%s: %d steps, largest parameter difference %.3g, loss %.9f vs %.9f", name, one.Steps, worst, one.FinalLoss, sums[0].FinalLoss)
			if d := math.Abs(one.FinalLoss - sums[0].FinalLoss); d > 1e-6*one.FinalLoss {
				t.Fatalf("final loss %v vs %v", one.FinalLoss, sums[0].FinalLoss)
			}
		})
	}
}

// TestDistLocalEqualsGroups: m-sharpness on 2 ranks (each rank perturbs
// with its own gradient of 4 images, the directions are averaged) equals
// one process with --sharpness-group 4, in training mode with batch norm
// per group.
func TestDistLocalEqualsGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny runs")
	}
	for _, tc := range []struct {
		name       string
		fromCenter bool
	}{{"sam", false}, {"bsam", false}, {"bsam", true}} {
		t.Run(fmt.Sprintf("%s_center%v", tc.name, tc.fromCenter), func(t *testing.T) {
			c := distConfig(t, tc.name)
			c.FromCenter = tc.fromCenter
			c.SharpnessGroup = 4
			one, err := Run(context.Background(), c, ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			var log paramLog
			stepHook = log.hook
			defer func() { stepHook = nil }()
			c2 := c
			c2.Out = t.TempDir()
			c2.SharpnessGroup = 0
			c2.SharpnessSync = "local"
			sums, errs := runRanks(2, c2, nil)
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			log.sameAcrossRanks(t, 2, one.Steps)
			a := weights(t, filepath.Join(c.Out, "last.safetensors"))
			b := weights(t, filepath.Join(c2.Out, "last.safetensors"))
			wp := compareTensors(t, params(a), params(b), "", 0, 0)
			wb := compareTensors(t, buffers(a), buffers(b), "", 1e-6, 1e-5)
			t.Logf("%d steps; parameters bit for bit (%g), batch-norm statistics within %.3g", one.Steps, wp, wb)
			if one.FinalLoss != sums[0].FinalLoss {
				t.Fatalf("final loss %v vs %v", one.FinalLoss, sums[0].FinalLoss)
			}

			// And m-sharpness differs from the exact global step.
			c3 := distConfig(t, tc.name)
			c3.FromCenter = tc.fromCenter
			if _, err := Run(context.Background(), c3, ioDiscard{}); err != nil {
				t.Fatal(err)
			}
			g := weights(t, filepath.Join(c3.Out, "last.safetensors"))
			same := true
			for n, v := range params(g) {
				for i := range v {
					same = same && v[i] == a[n][i]
				}
			}
			if same {
				t.Fatal("--sharpness-group 4 gave the same weights as the global step of 8")
			}
		})
	}
}

// TestDistStopOnOneRank: Ctrl-C on one rank stops both after the same step;
// rank 0 saves, and the saved run resumes on 2 ranks to the end.
func TestDistStopOnOneRank(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny runs")
	}
	c := distConfig(t, "bsam")
	c.Epochs = 2
	ctx1, cancel := context.WithCancel(context.Background())
	defer cancel()
	stepHook = func(rank, step int, _ []*optim.Param) {
		if rank == 1 && step == 2 {
			cancel() // seen by the agreement after step 3
		}
	}
	defer func() { stepHook = nil }()
	_, errs := runRanks(2, c, []context.Context{context.Background(), ctx1})
	for r, err := range errs {
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("rank %d: %v, want ErrInterrupted", r, err)
		}
	}
	ck, err := pose.LoadCheckpoint(filepath.Join(c.Out, "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta.Train.Step != 3 {
		t.Fatalf("saved at step %d, want 3", ck.Meta.Train.Step)
	}
	stepHook = nil
	c.Resume = true
	sums, errs := runRanks(2, c, nil)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("resume, rank %d: %v", r, err)
		}
	}
	full := c
	full.Resume = false
	full.Out = t.TempDir()
	fsums, errs := runRanks(2, full, nil)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if sums[0].Steps != fsums[0].Steps {
		t.Fatalf("resumed run ended at step %d, uninterrupted at %d", sums[0].Steps, fsums[0].Steps)
	}
	a := weights(t, filepath.Join(full.Out, "last.safetensors"))
	b := weights(t, filepath.Join(c.Out, "last.safetensors"))
	compareTensors(t, params(a), params(b), "", 0, 0)
}

func TestDistRejects(t *testing.T) {
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.BatchSize = 7 }, "multiple of the 2 ranks"},
		{func(c *Config) { c.SharpnessSync = "ring" }, "--sharpness-sync"},
		{func(c *Config) { c.Optim = "adam"; c.SharpnessSync = "local" }, "sam and bsam"},
		{func(c *Config) { c.SharpnessSync = "global"; c.SharpnessGroup = 2 }, "needs --sharpness-sync local"},
		{func(c *Config) { c.SharpnessGroup = 3 }, "must divide the per-rank batch 4"},
	}
	for _, tc := range cases {
		c := Defaults()
		c.Optim = "bsam"
		c.BatchSize = 8
		c.Comm = dist.Group(2)[0]
		tc.mod(&c)
		_, _, err := newDistRun(context.Background(), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.want, err, tc.want)
		}
	}
}

// TestDistNaNStopsEveryRank: a NaN loss (the same on every rank in exact
// mode, where the loss is reduced) stops both ranks at the same step
// without a hang.
func TestDistNaNStopsEveryRank(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny runs")
	}
	c := distConfig(t, "sam")
	lossHook = func(step int, loss float64) float64 {
		if step == 2 {
			return math.NaN()
		}
		return loss
	}
	defer func() { lossHook = nil }()
	_, errs := runRanks(2, c, nil)
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "step 2") || !strings.Contains(err.Error(), "NaN") {
			t.Fatalf("rank %d: %v, want a NaN stop at step 2", r, err)
		}
	}
}
