package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/sharp"
	"github.com/bsampose/bsampose/synth"
	"github.com/bsampose/bsampose/train"
)

func TestNewStat(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want Stat
	}{
		{"three", []float64{1, 2, 3}, Stat{Mean: 2, Std: 1, Min: 1, Max: 3, N: 3}},
		{"one", []float64{5}, Stat{Mean: 5, Std: 0, Min: 5, Max: 5, N: 1}},
		{"nan skipped", []float64{2, math.NaN(), 4}, Stat{Mean: 3, Std: math.Sqrt2, Min: 2, Max: 4, N: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewStat(tc.xs)
			if got.N != tc.want.N || math.Abs(got.Mean-tc.want.Mean) > 1e-12 || math.Abs(got.Std-tc.want.Std) > 1e-12 ||
				got.Min != tc.want.Min || got.Max != tc.want.Max {
				t.Errorf("NewStat(%v) = %+v, want %+v", tc.xs, got, tc.want)
			}
		})
	}
	if s := NewStat(nil); s.N != 0 || !math.IsNaN(s.Mean) {
		t.Errorf("empty: %+v", s)
	}
	b, err := json.Marshal(NewStat(nil))
	if err != nil || string(b) != `{"mean":null,"std":null,"min":null,"max":null,"n":0}` {
		t.Errorf("empty stat JSON %s, %v", b, err)
	}
}

func TestTrainConfigNames(t *testing.T) {
	base := train.Defaults()
	for _, tc := range []struct {
		name, optim string
		center      bool
	}{{"adam", "adam", false}, {"bsam", "bsam", false}, {"bsam-center", "bsam", true}, {"sam", "sam", false}} {
		c, err := trainConfig(base, tc.name, 7, "d")
		if err != nil || c.Optim != tc.optim || c.FromCenter != tc.center || c.Seed != 7 || c.Out != "d" {
			t.Errorf("%s: %+v, %v", tc.name, c, err)
		}
	}
	if _, err := trainConfig(base, "lion", 1, "d"); err == nil {
		t.Error("unknown optimizer accepted")
	}
	p := Paper()
	if p.Preset != "resnet50" || p.InputH != 256 || p.InputW != 192 || p.Epochs != 140 || p.LR != 1e-3 ||
		p.Optim != "adam" || p.LRSchedule != "step" || fmt.Sprint(p.LRSteps) != "[90 120]" {
		t.Errorf("paper protocol %+v", p)
	}
}

func TestExecuteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny runs")
	}
	dir := filepath.Join(os.TempDir(), "bsampose-compare-test-data")
	tr, va, err := synth.EnsureSplits(context.Background(), dir, 24, 8, 7, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	c := train.Defaults()
	c.Ann, c.Images, c.ValAnn, c.ValImages = tr.Ann, tr.Images, va.Ann, va.Images
	c.InputH, c.InputW = 64, 32
	c.BatchSize = 8
	c.Epochs = 1
	c.MaxSteps = 2
	c.Workers = 2
	c.CacheMB = 64
	cfg := Config{
		Train: c, Optims: []string{"adam", "bsam"}, Seeds: 1, Out: t.TempDir(),
		SharpBatches: 1,
		Sharp:        sharp.Config{PowerIters: 2, Hutchinson: 2, ProfilePts: 5},
	}
	var prog bytes.Buffer
	res, err := Execute(context.Background(), cfg, &prog)
	if err != nil {
		t.Fatalf("%v\n%s", err, prog.String())
	}
	for _, f := range []string{"results.json", "results.md", "val_pck.png", "val_pck_passes.png", "train_loss.png", "train_loss_steps.png", "metrics.png",
		"runs/adam-s1/summary.json", "runs/bsam-s1/sharpness.json", "runs/bsam-s1/loss_profile.png"} {
		b, err := os.ReadFile(filepath.Join(cfg.Out, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
	// results.json holds the numbers of each run.
	b, err := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Optims) != 2 || back.Optims[0].Name != "adam" || back.Optims[1].Name != "bsam" {
		t.Fatalf("optimizers in results.json: %+v", back.Optims)
	}
	md, _ := os.ReadFile(filepath.Join(cfg.Out, "results.md"))
	if !strings.Contains(string(md), "posenet-s at 64x32") {
		t.Errorf("results.md lacks the protocol:\n%s", md)
	}
	for i, o := range back.Optims {
		run := o.Runs[0]
		var sum train.Summary
		sb, err := os.ReadFile(filepath.Join(cfg.Out, "runs", o.Name+"-s1", "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(sb, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Steps != 2 || sum.Val == nil {
			t.Fatalf("%s: summary steps %d, val %v", o.Name, sum.Steps, sum.Val)
		}
		want := map[string]float64{"AP": sum.Val.OKS.AP, "PCK@0.2": sum.Val.PCK, "final train loss": sum.FinalLoss,
			"MaxS": run.Sharp.Sharp.MaxS, "Hessian trace": run.Sharp.Trace.Mean}
		for m, v := range want {
			st := o.Stats[m]
			if st.N != 1 || math.Abs(st.Mean-v) > 1e-12*math.Abs(v) {
				t.Errorf("%s %s: results.json %+v, run %g", o.Name, m, st, v)
			}
		}
		if res.Optims[i].Stats["MinS"].Mean != run.Sharp.Sharp.MinS {
			t.Errorf("%s: MinS differs between the returned and written results", o.Name)
		}
		if !strings.Contains(string(md), "| "+o.Name+" | 1 |") || !strings.Contains(string(md), num(sum.FinalLoss)) {
			t.Errorf("results.md lacks the row of %s (final loss %s):\n%s", o.Name, num(sum.FinalLoss), md)
		}
		if len(o.Loss) != 1 || o.Loss[0].Mean != sum.EpochLog[0].TrainLoss {
			t.Errorf("%s: per-epoch loss %+v, summary %+v", o.Name, o.Loss, sum.EpochLog)
		}
	}

	// A second invocation skips the finished runs and rewrites the same
	// results.
	stamp := map[string]int64{}
	for _, n := range []string{"adam-s1", "bsam-s1"} {
		for _, f := range []string{"summary.json", "last.safetensors", "sharpness.json"} {
			st, err := os.Stat(filepath.Join(cfg.Out, "runs", n, f))
			if err != nil {
				t.Fatal(err)
			}
			stamp[n+"/"+f] = st.ModTime().UnixNano()
		}
	}
	prog.Reset()
	if _, err := Execute(context.Background(), cfg, &prog); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(prog.String(), "finished before, skipped"); got != 2 {
		t.Errorf("second run skipped %d runs, want 2:\n%s", got, prog.String())
	}
	for k, v := range stamp {
		st, _ := os.Stat(filepath.Join(cfg.Out, "runs", k))
		if st.ModTime().UnixNano() != v {
			t.Errorf("%s was rewritten by the second invocation", k)
		}
	}
	b2, _ := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
	if !bytes.Equal(b, b2) {
		t.Error("results.json differs after the resumed invocation")
	}

	// Other settings with the same output folder are refused, not mixed.
	other := cfg
	other.Train.LR = 2e-3
	if _, err := Execute(context.Background(), other, &prog); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("changed LR over finished runs: err = %v", err)
	}

	// An unfinished run (checkpoint but no summary) continues with Resume.
	if err := os.Remove(filepath.Join(cfg.Out, "runs", "bsam-s1", "summary.json")); err != nil {
		t.Fatal(err)
	}
	prog.Reset()
	if _, err := Execute(context.Background(), cfg, &prog); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prog.String(), "bsam seed 1: training into") || !strings.Contains(prog.String(), "resuming ") ||
		strings.Count(prog.String(), "finished before, skipped") != 1 {
		t.Errorf("unfinished run not resumed:\n%s", prog.String())
	}

	// An unknown optimizer fails before any training.
	bad := cfg
	bad.Optims = []string{"adam", "lion"}
	bad.Out = t.TempDir()
	if _, err := Execute(context.Background(), bad, &prog); err == nil {
		t.Error("unknown optimizer accepted")
	}
}

// TestStepLoss: block means per run, then statistics over runs; a run
// without a log is left out, a shorter run drops out of later blocks.
func TestStepLoss(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, losses []float64) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, l := range losses {
			fmt.Fprintf(&b, "{\"step\":%d,\"loss\":%g}\n", i+1, l)
		}
		if err := os.WriteFile(filepath.Join(d, "metrics.jsonl"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := write("a", []float64{1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 4, 6})
	b := write("b", []float64{3, 3, 3, 3, 3, 0, 0, 0, 0, 0})
	o := &Optim{Runs: []Run{{Dir: a}, {Dir: b}, {Dir: filepath.Join(dir, "missing")}}}
	stepLoss(o)
	if o.StepBlock != 5 || len(o.StepLoss) != 3 {
		t.Fatalf("block %d, %d blocks; want 5 and 3", o.StepBlock, len(o.StepLoss))
	}
	want := []struct {
		n              int
		mean, min, max float64
	}{{2, 2, 1, 3}, {2, 1, 0, 2}, {1, 5, 5, 5}}
	for i, w := range want {
		s := o.StepLoss[i]
		if s.N != w.n || s.Mean != w.mean || s.Min != w.min || s.Max != w.max {
			t.Errorf("block %d: %+v, want n %d mean %v min %v max %v", i, s, w.n, w.mean, w.min, w.max)
		}
	}
	write("bad", []float64{1})
	if err := os.WriteFile(filepath.Join(dir, "bad", "metrics.jsonl"), []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readStepLosses(filepath.Join(dir, "bad", "metrics.jsonl")); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("a broken log gave %v, want an error naming the file", err)
	}
}

// TestExecuteArmsDev: arms with their own settings, a dev split, the final
// and probe evaluations, the paired differences, relative paths, and a
// second invocation with one more arm that trains only that arm.
func TestExecuteArmsDev(t *testing.T) {
	if testing.Short() {
		t.Skip("trains six tiny runs")
	}
	dir := filepath.Join(os.TempDir(), "bsampose-compare-test-data")
	tr, va, err := synth.EnsureSplits(context.Background(), dir, 24, 8, 7, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	c := train.Defaults()
	c.Ann, c.Images, c.ValAnn, c.ValImages = tr.Ann, tr.Images, va.Ann, va.Images
	c.InputH, c.InputW = 64, 32
	c.BatchSize, c.Epochs, c.MaxSteps, c.Workers, c.CacheMB = 8, 1, 2, 2, 64
	mk := func(text string) []Arm {
		specs, err := ParseArms(text)
		if err != nil {
			t.Fatal(err)
		}
		var as []Arm
		for _, sp := range specs {
			tc, err := OptimConfig(c, sp.Optim)
			if err != nil {
				t.Fatal(err)
			}
			tc.LR = 1e-2 // what a bracket item would set (cmd/posetrain applies them as flags)
			as = append(as, Arm{Name: sp.Name, Text: sp.Text, Train: tc, Baseline: sp.Baseline})
		}
		return as
	}
	cfg := Config{Train: c, Arms: mk("sgd[lr=1e-2],asam[lr=1e-2,baseline=sgd[lr=1e-2]]"), Seeds: 2, Out: t.TempDir(), SharpBatches: -1, Dev: 4}
	var prog bytes.Buffer
	res, err := Execute(context.Background(), cfg, &prog)
	if err != nil {
		t.Fatalf("%v\n%s", err, prog.String())
	}
	for _, f := range []string{"split/train.json", "split/dev.json", "split/probe.json", "results.json", "results.md",
		"runs/sgd_lr-1e-2-s1/eval.json", "runs/asam_lr-1e-2-s2/hits.json", "runs/asam_lr-1e-2-s2/machine.json"} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Error(err)
		}
	}
	if res.Optims[1].Settings.Optim != "sam" || !res.Optims[1].Settings.Adaptive || res.Optims[1].Baseline != "sgd_lr-1e-2" {
		t.Errorf("asam arm: %+v, baseline %q", res.Optims[1].Settings, res.Optims[1].Baseline)
	}
	for _, o := range res.Optims {
		for _, r := range o.Runs {
			e := r.Eval
			if e == nil || e.Final == nil || e.Probe == nil || e.Final.Persons == 0 || e.Probe.Persons == 0 {
				t.Fatalf("%s-s%d: eval %+v", o.Name, r.Seed, e)
			}
			if e.Final.PCKh != nil {
				t.Errorf("%s: the synthetic schema has no head joints, PCKh %v", o.Name, *e.Final.PCKh)
			}
			if got := evalValue(r, "gap"); math.Abs(got-(e.Probe.PCK-r.Summary.Val.PCK)) > 1e-12 {
				t.Errorf("%s: gap %v, probe %v, dev %v", o.Name, got, e.Probe.PCK, r.Summary.Val.PCK)
			}
			if len(r.Sessions) != 1 || r.Sessions[0].ISA == "" || r.Sessions[0].WallSeconds <= 0 {
				t.Errorf("%s: sessions %+v", o.Name, r.Sessions)
			}
			if r.Passes != map[string]int{"sgd_lr-1e-2": 1, "asam_lr-1e-2": 2}[o.Name] {
				t.Errorf("%s: %d passes per step", o.Name, r.Passes)
			}
		}
	}
	// The runs validated on dev: 4 dev images of the 24.
	dev, _ := os.ReadFile(filepath.Join(cfg.Out, "split", "dev.json"))
	if n := strings.Count(string(dev), "\"file_name\""); n != 4 {
		t.Errorf("dev.json has %d images, want 4", n)
	}
	if len(res.Diffs) != 2 || res.Diffs[0].Metric != "final PCK@0.2" || len(res.Diffs[0].Seeds) != 2 || res.Diffs[0].Lo == nil ||
		!(*res.Diffs[0].Lo <= res.Diffs[0].Mean && res.Diffs[0].Mean <= *res.Diffs[0].Hi) {
		t.Errorf("paired differences %+v", res.Diffs)
	}
	js, _ := os.ReadFile(filepath.Join(cfg.Out, "results.json"))
	md, _ := os.ReadFile(filepath.Join(cfg.Out, "results.md"))
	for _, b := range [][]byte{js, md} {
		if bytes.Contains(b, []byte(`"`+cfg.Out)) || bytes.Contains(b, []byte(`"`+dir)) || bytes.Contains(b, []byte("`"+dir)) {
			t.Errorf("an absolute path in the results:\n%s", b)
		}
	}
	if !bytes.Contains(md, []byte("| asam_lr-1e-2 | sgd_lr-1e-2 | final PCK@0.2 | 2 |")) {
		t.Errorf("results.md lacks the paired difference:\n%s", md)
	}

	// One more arm: only its two runs train; the others are read back.
	cfg.Arms = append(cfg.Arms, mk("bsam[lr=1e-2]")...)
	prog.Reset()
	if _, err := Execute(context.Background(), cfg, &prog); err != nil {
		t.Fatalf("%v\n%s", err, prog.String())
	}
	if s, tr := strings.Count(prog.String(), "finished before, skipped"), strings.Count(prog.String(), "training into"); s != 4 || tr != 2 {
		t.Errorf("second invocation skipped %d and trained %d runs, want 4 and 2:\n%s", s, tr, prog.String())
	}
	if strings.Count(prog.String(), "evaluating") != 2 {
		t.Errorf("recorded evaluations were redone:\n%s", prog.String())
	}
}

func TestSecondsPerEpoch(t *testing.T) {
	for _, tc := range []struct {
		secs []float64
		want float64
	}{
		{[]float64{10}, 10},
		{[]float64{10, 12, 900}, 12}, // one paused epoch does not move it
		{[]float64{30, 10, 20, 40}, 25},
	} {
		s := &train.Summary{}
		for _, x := range tc.secs {
			s.EpochLog = append(s.EpochLog, train.EpochRecord{Seconds: x})
		}
		if got := runValue(Run{Summary: s}, "s/epoch"); got != tc.want {
			t.Errorf("s/epoch of %v = %v, want %v", tc.secs, got, tc.want)
		}
		var sum float64
		for _, x := range tc.secs {
			sum += x
		}
		if got := runValue(Run{Summary: s}, "train s"); got != sum {
			t.Errorf("train s of %v = %v, want %v", tc.secs, got, sum)
		}
	}
}
