package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/sharp"
	"github.com/bsampose/bsampose/train"
)

// Config is a whole comparison.
type Config struct {
	Train  train.Config // shared settings; Optim, FromCenter, Seed and Out are set per run
	Optims []string     // e.g. adam, sam, bsam, bsam-center
	Seeds  int          // runs per optimizer
	Out    string

	// Flatness of each final checkpoint (SharpBatches < 0 skips it).
	SharpBatches int // fixed training batches (default 4)
	Sharp        sharp.Config
}

// Paper returns the paper-scale protocol: SimpleBaseline ResNet-50 at
// 256x192, Adam lr 1e-3, 140 epochs with the LR divided by 10 at epochs 90
// and 120, batch 32 (the ann/images paths are the caller's: COCO
// train2017/val2017 person keypoints).
func Paper() train.Config {
	c := train.Defaults()
	c.Preset = pose.PresetResNet50
	c.InputH, c.InputW = 256, 192
	c.LR = 1e-3
	c.Epochs = 140
	c.LRSchedule = "step"
	c.LRSteps = []int{90, 120}
	c.LRGamma = 0.1
	c.WarmupIters = 500
	c.BatchSize = 32
	return c
}

// Run is one finished run.
type Run struct {
	Optim   string         `json:"optim"`
	Seed    int64          `json:"seed"`
	Dir     string         `json:"dir"`
	Summary *train.Summary `json:"summary"`
	Sharp   *sharp.Report  `json:"sharpness,omitempty"`
}

// Stat summarises one metric over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	N    int     `json:"n"`
}

// MarshalJSON writes NaN fields (no runs with the metric) as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	f := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		Mean *float64 `json:"mean"`
		Std  *float64 `json:"std"`
		Min  *float64 `json:"min"`
		Max  *float64 `json:"max"`
		N    int      `json:"n"`
	}{f(s.Mean), f(s.Std), f(s.Min), f(s.Max), s.N})
}

// NewStat returns the statistics of xs, skipping NaNs.
func NewStat(xs []float64) Stat {
	s := Stat{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		if math.IsNaN(x) {
			continue
		}
		s.N++
		s.Mean += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	if s.N == 0 {
		return Stat{Mean: math.NaN(), Std: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range xs {
			if !math.IsNaN(x) {
				ss += (x - s.Mean) * (x - s.Mean)
			}
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// Metric names, in table order.
var Metrics = []string{"AP", "AP50", "AR", "PCK@0.2", "final train loss", "s/epoch", "MaxS", "MinS", "top eigenvalue", "Hessian trace"}

// Optim aggregates the runs of one optimizer.
type Optim struct {
	Name  string          `json:"name"`
	Runs  []Run           `json:"runs"`
	Stats map[string]Stat `json:"stats"`      // by Metrics name
	PCK   []Stat          `json:"val_pck"`    // per epoch
	Loss  []Stat          `json:"train_loss"` // per epoch
	// StepLoss is the training loss over steps, in blocks of StepBlock
	// steps (block means of each run's metrics.jsonl, then statistics over
	// seeds); block b covers steps b*StepBlock+1 .. (b+1)*StepBlock.
	StepLoss  []Stat `json:"train_loss_steps,omitempty"`
	StepBlock int    `json:"train_loss_step_block,omitempty"`
}

// Results is results.json.
type Results struct {
	Protocol train.Config `json:"protocol"`
	Optims   []*Optim     `json:"optims"`
}

// runValue returns metric name of one run (NaN when absent).
func runValue(r Run, name string) float64 {
	s := r.Summary
	nan := math.NaN()
	v := s.Val
	switch name {
	case "AP", "AP50", "AR", "PCK@0.2":
		if v == nil {
			return nan
		}
		return map[string]float64{"AP": v.OKS.AP, "AP50": v.OKS.AP50, "AR": v.OKS.AR, "PCK@0.2": v.PCK}[name]
	case "final train loss":
		return s.FinalLoss
	case "s/epoch":
		if len(s.EpochLog) == 0 {
			return nan
		}
		var t float64
		for _, e := range s.EpochLog {
			t += e.Seconds
		}
		return t / float64(len(s.EpochLog))
	}
	if r.Sharp == nil {
		return nan
	}
	switch name {
	case "MaxS":
		return r.Sharp.Sharp.MaxS
	case "MinS":
		return r.Sharp.Sharp.MinS
	case "top eigenvalue":
		if r.Sharp.Eigen != nil {
			return r.Sharp.Eigen.Value
		}
	case "Hessian trace":
		if r.Sharp.Trace != nil {
			return r.Sharp.Trace.Mean
		}
	}
	return nan
}

// trainConfig maps an optimizer name to the run's training settings.
func trainConfig(base train.Config, optim string, seed int64, dir string) (train.Config, error) {
	c := base
	c.Optim, c.FromCenter = optim, false
	switch optim {
	case "bsam-center":
		c.Optim, c.FromCenter = "bsam", true
	case "sgd", "adam", "adamw", "sam", "bsam":
	default:
		return c, fmt.Errorf("compare: unknown optimizer %q (want sgd, adam, adamw, sam, bsam or bsam-center)", optim)
	}
	c.Seed = seed
	c.Out = dir
	c.Resume = false
	return c, nil
}

// Execute trains (or reads back) every run, measures flatness, and writes
// results.json, results.md and the plots into cfg.Out. progress gets the
// trainer's progress and one line per run.
func Execute(ctx context.Context, cfg Config, progress io.Writer) (*Results, error) {
	if len(cfg.Optims) == 0 || cfg.Seeds <= 0 {
		return nil, errors.New("compare: need at least one optimizer and one seed")
	}
	if cfg.Out == "" {
		return nil, errors.New("compare: no output folder")
	}
	res := &Results{Protocol: cfg.Train}
	if err := res.Protocol.Validate(); err != nil { // fills the derived defaults (input size)
		return nil, fmt.Errorf("compare: %w", err)
	}
	res.Protocol.Out = cfg.Out
	for _, name := range cfg.Optims {
		if _, err := trainConfig(cfg.Train, name, 0, ""); err != nil {
			return nil, err
		}
	}
	// Seeds outside, optimizers inside: an interrupted comparison has
	// whole seeds of every optimizer, not every seed of a few.
	optims := make([]*Optim, len(cfg.Optims))
	for j, name := range cfg.Optims {
		optims[j] = &Optim{Name: name}
	}
	for i := range cfg.Seeds {
		seed := cfg.Train.Seed + int64(i)
		for _, o := range optims {
			dir := filepath.Join(cfg.Out, "runs", fmt.Sprintf("%s-s%d", o.Name, seed))
			r, err := oneRun(ctx, cfg, o.Name, seed, dir, progress)
			if err != nil {
				return nil, err
			}
			o.Runs = append(o.Runs, r)
		}
		// Results so far, rewritten after every seed (atomically), so a
		// long comparison can be read while it runs.
		res.Optims = res.Optims[:0]
		for _, o := range optims {
			aggregate(o)
			res.Optims = append(res.Optims, o)
		}
		if i+1 < cfg.Seeds {
			if err := Write(res, cfg.Out); err != nil {
				return nil, err
			}
		}
	}
	if err := Write(res, cfg.Out); err != nil {
		return nil, err
	}
	return res, nil
}

func oneRun(ctx context.Context, cfg Config, name string, seed int64, dir string, progress io.Writer) (Run, error) {
	r := Run{Optim: name, Seed: seed, Dir: dir}
	sumPath := filepath.Join(dir, "summary.json")
	if b, err := os.ReadFile(sumPath); err == nil {
		var s train.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return r, fmt.Errorf("compare: %s: %w", sumPath, err)
		}
		r.Summary = &s
		if err := sameSettings(cfg.Train, name, seed, dir); err != nil {
			return r, err
		}
		fmt.Fprintf(progress, "compare: %s seed %d: finished before, skipped (%s)\n", name, seed, sumPath)
	} else {
		tc, err := trainConfig(cfg.Train, name, seed, dir)
		if err != nil {
			return r, err
		}
		if _, err := os.Stat(filepath.Join(dir, "last.safetensors")); err == nil {
			tc.Resume = true
		}
		fmt.Fprintf(progress, "compare: %s seed %d: training into %s (resume %v)\n", name, seed, dir, tc.Resume)
		s, err := train.Run(ctx, tc, progress)
		if errors.Is(err, train.ErrComplete) {
			err = nil // trained to the end, summary.json not yet written
		}
		if err != nil {
			return r, fmt.Errorf("compare: %s seed %d: %w", name, seed, err)
		}
		r.Summary = s
	}
	if cfg.SharpBatches < 0 {
		return r, nil
	}
	shPath := filepath.Join(dir, "sharpness.json")
	if b, err := os.ReadFile(shPath); err == nil {
		var rep sharp.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return r, fmt.Errorf("compare: %s: %w", shPath, err)
		}
		r.Sharp = &rep
		return r, nil
	}
	rep, err := Sharpness(ctx, SharpnessJob{
		Setup: sharp.Setup{Model: r.Summary.Last, Ann: cfg.Train.Ann, Images: cfg.Train.Images,
			Batches: cfg.SharpBatches, BatchSize: cfg.Train.BatchSize, Seed: seed, Workers: cfg.Train.Workers},
		Config: cfg.Sharp, Out: dir, Title: fmt.Sprintf("%s seed %d", name, seed),
	}, progress)
	if err != nil {
		return r, fmt.Errorf("compare: %s seed %d: %w", name, seed, err)
	}
	r.Sharp = rep
	return r, nil
}

// sameSettings checks that the finished run in dir was trained with the
// settings this comparison would use (last.json holds them), so that a
// changed command never mixes runs of different protocols.
func sameSettings(base train.Config, name string, seed int64, dir string) error {
	tc, err := trainConfig(base, name, seed, dir)
	if err != nil {
		return err
	}
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	want, _ := json.Marshal(tc)
	path := filepath.Join(dir, "last.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("compare: %s has summary.json but no readable last.json: %w", dir, err)
	}
	var meta pose.Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("compare: %s: %w", path, err)
	}
	if meta.Train == nil {
		return fmt.Errorf("compare: %s has no training settings", path)
	}
	var got, exp any
	if json.Unmarshal(meta.Train.Config, &got) != nil || json.Unmarshal(want, &exp) != nil || !reflect.DeepEqual(got, exp) {
		return fmt.Errorf("compare: %s was trained with other settings; use another --out or the same flags:\n  saved: %s\n  now:   %s", dir, meta.Train.Config, want)
	}
	return nil
}

// SharpnessJob is one `posetrain sharpness` measurement.
type SharpnessJob struct {
	Setup  sharp.Setup
	Config sharp.Config
	Out    string // folder for sharpness.json and loss_profile.png ("" : none)
	Title  string
}

// Sharpness measures one checkpoint and writes Out/sharpness.json and
// Out/loss_profile.png.
func Sharpness(ctx context.Context, job SharpnessJob, progress io.Writer) (*sharp.Report, error) {
	net, o, err := sharp.Load(ctx, job.Setup)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	defer o.Restore()
	cfg := job.Config
	cfg.Blocks = o.Blocks()
	if cfg.Progress == nil {
		cfg.Progress = progress
	}
	rep, err := sharp.Analyze(o, o.Weights(), cfg)
	if err != nil {
		return nil, err
	}
	if job.Out == "" {
		return rep, nil
	}
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := pose.WriteFileAtomic(filepath.Join(job.Out, "sharpness.json"), append(js, '\n')); err != nil {
		return nil, err
	}
	if len(rep.Losses) > 0 {
		title := "loss along a filter-normalised direction"
		if job.Title != "" {
			title = job.Title + ": " + title
		}
		if err := sharp.PlotProfile(filepath.Join(job.Out, "loss_profile.png"), title, rep.Alphas, rep.Losses); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func aggregate(o *Optim) {
	o.Stats = map[string]Stat{}
	for _, m := range Metrics {
		xs := make([]float64, len(o.Runs))
		for i, r := range o.Runs {
			xs[i] = runValue(r, m)
		}
		o.Stats[m] = NewStat(xs)
	}
	ne := 0
	for _, r := range o.Runs {
		ne = max(ne, len(r.Summary.EpochLog))
	}
	o.PCK, o.Loss = make([]Stat, ne), make([]Stat, ne)
	for e := range ne {
		var pck, loss []float64
		for _, r := range o.Runs {
			if e >= len(r.Summary.EpochLog) {
				continue
			}
			rec := r.Summary.EpochLog[e]
			loss = append(loss, rec.TrainLoss)
			if rec.Val != nil {
				pck = append(pck, rec.Val.PCK)
			} else {
				pck = append(pck, math.NaN())
			}
		}
		o.PCK[e], o.Loss[e] = NewStat(pck), NewStat(loss)
	}
	stepLoss(o)
}

// stepLoss fills o.StepLoss from the runs' metrics.jsonl (runs without a
// readable log are left out): blocks of at least 5 steps, at most about
// 400 blocks per run.
func stepLoss(o *Optim) {
	var per [][]float64
	n := 0
	for _, r := range o.Runs {
		ls, err := readStepLosses(filepath.Join(r.Dir, "metrics.jsonl"))
		if err != nil || len(ls) == 0 {
			continue
		}
		per = append(per, ls)
		n = max(n, len(ls))
	}
	o.StepLoss, o.StepBlock = nil, 0
	if n == 0 {
		return
	}
	o.StepBlock = max(5, (n+399)/400)
	nb := (n + o.StepBlock - 1) / o.StepBlock
	o.StepLoss = make([]Stat, nb)
	for b := range nb {
		var xs []float64
		for _, ls := range per {
			lo, hi := b*o.StepBlock, min((b+1)*o.StepBlock, len(ls))
			if lo >= hi {
				continue
			}
			var sum float64
			for _, l := range ls[lo:hi] {
				sum += l
			}
			xs = append(xs, sum/float64(hi-lo))
		}
		o.StepLoss[b] = NewStat(xs)
	}
}

// readStepLosses returns the loss of every logged step of a metrics.jsonl,
// in step order (steps 1, 2, ... as logged with the default period of 1).
func readStepLosses(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ls []float64
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec struct {
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("compare: %s: %w", path, err)
		}
		ls = append(ls, rec.Loss)
	}
	return ls, nil
}

// Write writes results.json, results.md and the plots of Plot into dir.
func Write(res *Results, dir string) error {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("compare: results.json: %w", err)
	}
	if err := pose.WriteFileAtomic(filepath.Join(dir, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	var md strings.Builder
	WriteMarkdown(&md, res)
	if err := pose.WriteFileAtomic(filepath.Join(dir, "results.md"), []byte(md.String())); err != nil {
		return err
	}
	return Plot(res, dir)
}

// WriteMarkdown writes the results table: one row per optimizer, mean ±
// std over seeds of every metric.
func WriteMarkdown(w io.Writer, res *Results) {
	p := res.Protocol
	fmt.Fprintf(w, "# Optimizer comparison\n\n")
	fmt.Fprintf(w, "Protocol: %s at %dx%d, %d epochs, batch %d, base LR %g (%s), base optimizer of sam/bsam %s, rho_max %g, rho_min %g, seeds from %d.\n",
		p.Preset, p.InputH, p.InputW, p.Epochs, p.BatchSize, p.LR, p.LRSchedule, p.Base, p.RhoMax, p.RhoMin, p.Seed)
	fmt.Fprintf(w, "Train: `%s`; val: `%s`. Mean ± std over seeds (n runs); validation metrics of the final epoch.\n\n", p.Ann, p.ValAnn)
	fmt.Fprintf(w, "| optimizer | n |")
	for _, m := range Metrics {
		fmt.Fprintf(w, " %s |", m)
	}
	fmt.Fprintf(w, "\n|---|---|")
	for range Metrics {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, o := range res.Optims {
		fmt.Fprintf(w, "| %s | %d |", o.Name, len(o.Runs))
		for _, m := range Metrics {
			s := o.Stats[m]
			if s.N == 0 {
				fmt.Fprintf(w, " – |")
				continue
			}
			fmt.Fprintf(w, " %s ± %s |", num(s.Mean), num(s.Std))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nPer run:\n\n| run | steps | AP | PCK@0.2 | final train loss | MaxS | MinS | top eigenvalue | trace |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range res.Optims {
		for _, r := range o.Runs {
			fmt.Fprintf(w, "| %s-s%d | %d |", r.Optim, r.Seed, r.Summary.Steps)
			for _, m := range []string{"AP", "PCK@0.2", "final train loss", "MaxS", "MinS", "top eigenvalue", "Hessian trace"} {
				fmt.Fprintf(w, " %s |", num(runValue(r, m)))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nPlots: `val_pck.png` and `train_loss.png` (per epoch, mean line and min–max band over seeds), `train_loss_steps.png` (the same over steps), `metrics.png` (final metrics); per run `runs/<optim>-s<seed>/loss_profile.png`.\n")
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.4g", x)
}
