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
	"slices"
	"strings"
	"time"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/sharp"
	"github.com/bsampose/bsampose/train"
)

// Config is a whole comparison.
type Config struct {
	Train  train.Config // shared settings; Optim, FromCenter, Seed and Out are set per run
	Optims []string     // e.g. adam, sam, bsam, bsam-center; used when Arms is empty
	Arms   []Arm        // the arms with their own settings (see ParseArms); nil: one per Optims name with Train
	Seeds  int          // runs per optimizer
	Out    string

	// Dev > 0 splits Train.Ann by image (coco.Split) into Out/split/train.json,
	// dev.json and probe.json: every run trains on train, validates on dev,
	// and its FinalCheckpoint is then evaluated on Train.ValAnn (the final
	// report set) and on the training probe. Dev 0: the runs validate on
	// Train.ValAnn, which is also the final set, and there is no probe.
	Dev             int
	TrainSubset     Subset // with Dev: train on this fraction of the train part (zero: all of it)
	FinalCheckpoint string // "last" (default) or "best" (chosen on the validation set)
	Baseline        string // default baseline arm of the paired differences ("": only per-arm baselines)

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
	Optim    string         `json:"optim"` // the arm's name
	Seed     int64          `json:"seed"`
	Dir      string         `json:"dir"` // in results.json: relative to the comparison's folder
	Summary  *train.Summary `json:"summary"`
	Sharp    *sharp.Report  `json:"sharpness,omitempty"`
	Eval     *RunEval       `json:"eval,omitempty"`     // eval.json
	Sessions []Session      `json:"sessions,omitempty"` // machine.json: where and how long it trained
	Passes   int            `json:"passes_per_step,omitempty"`

	hits *Hits // hits.json, for the bootstrap
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

// Metric names, in table order. AP to PCK@0.2 are the validation set's at
// the last epoch (the dev set with Config.Dev); the "final" ones are the
// final report set's (eval.json); "probe PCK@0.2" is the training probe's
// (no augmentation) and "gap" is probe PCK@0.2 minus validation PCK@0.2 of
// the same checkpoint's epoch; "s/epoch" is the median of the epochs'
// training seconds; "train s" is their sum (every epoch in the run's log,
// also those of sessions killed before they could record their machine
// entry, whose time "wall s", the sum of machine.json's sessions, misses).
var Metrics = []string{"AP", "AP50", "AR", "PCK@0.2", "final train loss", "s/epoch", "MaxS", "MinS", "top eigenvalue", "Hessian trace",
	"final PCK@0.2", "final PCKh@0.5", "final AP", "probe PCK@0.2", "gap", "passes/step", "wall s", "train s"}

// Optim aggregates the runs of one arm.
type Optim struct {
	Name     string          `json:"name"`
	Arm      string          `json:"arm,omitempty"`      // the arm's text in --optims
	Baseline string          `json:"baseline,omitempty"` // the arm its paired differences are against
	Settings *train.Config   `json:"settings,omitempty"` // the arm's training settings (Seed: the first)
	Runs     []Run           `json:"runs"`
	Stats    map[string]Stat `json:"stats"`      // by Metrics name
	PCK      []Stat          `json:"val_pck"`    // per epoch
	Loss     []Stat          `json:"train_loss"` // per epoch
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
	Dev      int          `json:"dev,omitempty"`          // Config.Dev
	Split    string       `json:"split,omitempty"`        // folder of train.json, dev.json, probe.json
	Subset   string       `json:"train_subset,omitempty"` // Config.TrainSubset, "K/N"
	Diffs    []Diff       `json:"paired_differences,omitempty"`
	Paths    string       `json:"paths,omitempty"` // PathsNote
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
	case "passes/step":
		if r.Passes == 0 {
			return nan
		}
		return float64(r.Passes)
	case "wall s":
		if len(r.Sessions) == 0 {
			return nan
		}
		var t float64
		for _, se := range r.Sessions {
			t += se.WallSeconds
		}
		return t
	case "final PCK@0.2", "final PCKh@0.5", "final AP", "probe PCK@0.2", "gap":
		return evalValue(r, name)
	case "train s":
		if len(s.EpochLog) == 0 {
			return nan
		}
		var t float64
		for _, e := range s.EpochLog {
			t += e.Seconds
		}
		return t
	case "s/epoch":
		if len(s.EpochLog) == 0 {
			return nan
		}
		// The median: an epoch slowed by other work on the machine (or a
		// paused process) does not move it.
		t := make([]float64, len(s.EpochLog))
		for i, e := range s.EpochLog {
			t[i] = e.Seconds
		}
		slices.Sort(t)
		n := len(t)
		return (t[(n-1)/2] + t[n/2]) / 2
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
	c, err := OptimConfig(base, optim)
	if err != nil {
		return c, err
	}
	c.Seed = seed
	c.Out = dir
	c.Resume = false
	return c, nil
}

// arms returns cfg.Arms, or one arm per cfg.Optims name, with the dev
// split applied, after checking names and baselines.
func arms(cfg Config, split string) ([]Arm, error) {
	as := cfg.Arms
	if len(as) == 0 {
		for _, name := range cfg.Optims {
			c, err := OptimConfig(cfg.Train, name)
			if err != nil {
				return nil, err
			}
			as = append(as, Arm{Name: name, Text: name, Train: c})
		}
	}
	as = append([]Arm(nil), as...)
	names := map[string]int{}
	for i, a := range as {
		if a.Name == "" || a.Name != DirName(a.Name) {
			return nil, fmt.Errorf("compare: arm %q: name %q is not a folder name (DirName)", a.Text, a.Name)
		}
		if _, dup := names[a.Name]; dup {
			return nil, fmt.Errorf("compare: two arms are named %q", a.Name)
		}
		names[a.Name] = i
	}
	for i := range as {
		a := &as[i]
		if a.Baseline == "" && cfg.Baseline != "" {
			a.Baseline = cfg.Baseline
		}
		if a.Baseline != "" {
			j, ok := names[DirName(a.Baseline)]
			if !ok {
				for k, b := range as {
					if b.Text == a.Baseline {
						j, ok = k, true
					}
				}
			}
			if !ok {
				return nil, fmt.Errorf("compare: arm %q: baseline %q is not an arm", a.Text, a.Baseline)
			}
			a.Baseline = as[j].Name
			if j == i {
				a.Baseline = "" // the default baseline itself
			}
		}
		if split != "" {
			tr, dev, _ := SplitFiles(split)
			a.Train.Ann, a.Train.ValAnn, a.Train.ValImages = tr, dev, a.Train.Images
		}
		probe := a.Train
		probe.Seed, probe.Out = 1, "x"
		if err := probe.Validate(); err != nil {
			return nil, fmt.Errorf("compare: arm %q: %w", a.Text, err)
		}
	}
	return as, nil
}

// runConfig is the training settings of one run of an arm.
func runConfig(a Arm, seed int64, dir string) train.Config {
	c := a.Train
	c.LRSteps = append([]int(nil), a.Train.LRSteps...)
	c.Seed, c.Out, c.Resume = seed, dir, false
	return c
}

// Execute trains (or reads back) every run, measures flatness, evaluates
// the final checkpoints, and writes results.json, results.md and the plots
// into cfg.Out. progress gets the trainer's progress and one line per run.
//
// Runs already recorded in cfg.Out (summary.json) are read back, not
// retrained, once their settings are checked to be this comparison's; so
// the same command continues an interrupted comparison, and adding arms or
// seeds runs only the new ones.
func Execute(ctx context.Context, cfg Config, progress io.Writer) (*Results, error) {
	if (len(cfg.Optims) == 0 && len(cfg.Arms) == 0) || cfg.Seeds <= 0 {
		return nil, errors.New("compare: need at least one optimizer and one seed")
	}
	if cfg.Out == "" {
		return nil, errors.New("compare: no output folder")
	}
	switch cfg.FinalCheckpoint {
	case "":
		cfg.FinalCheckpoint = "last"
	case "last", "best":
	default:
		return nil, fmt.Errorf("compare: final checkpoint %q: want last or best", cfg.FinalCheckpoint)
	}
	res := &Results{Protocol: cfg.Train, Dev: cfg.Dev, Subset: cfg.TrainSubset.String()}
	if err := res.Protocol.Validate(); err != nil { // fills the derived defaults (input size)
		return nil, fmt.Errorf("compare: %w", err)
	}
	res.Protocol.Out = cfg.Out
	final := evalSpec{cfg.Train.ValAnn, cfg.Train.ValImages}
	var probe *evalSpec
	if cfg.TrainSubset.Of > 0 && cfg.Dev == 0 {
		return nil, errors.New("compare: --train-subset needs --dev: it keeps a fraction of the split's train part")
	}
	if cfg.Dev > 0 {
		if final.ann == "" {
			return nil, errors.New("compare: --dev needs --val-ann, the final report set")
		}
		res.Split = filepath.Join(cfg.Out, "split")
		counts, err := WriteSplit(cfg.Train.Ann, cfg.Dev, cfg.TrainSubset, res.Split)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "compare: split %s by image into %s: %v images, %v persons\n", cfg.Train.Ann, res.Split, counts.Images, counts.Annotations)
		_, _, pr := SplitFiles(res.Split)
		probe = &evalSpec{pr, cfg.Train.Images}
	}
	as, err := arms(cfg, res.Split)
	if err != nil {
		return nil, err
	}
	// Seeds outside, arms inside: an interrupted comparison has whole
	// seeds of every arm, not every seed of a few.
	optims := make([]*Optim, len(as))
	for j, a := range as {
		set := runConfig(a, cfg.Train.Seed, "")
		optims[j] = &Optim{Name: a.Name, Arm: a.Text, Baseline: a.Baseline, Settings: &set}
	}
	for i := range cfg.Seeds {
		seed := cfg.Train.Seed + int64(i)
		for j, o := range optims {
			dir := filepath.Join(cfg.Out, "runs", fmt.Sprintf("%s-s%d", o.Name, seed))
			r, err := oneRun(ctx, cfg, as[j], seed, dir, final, probe, progress)
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
		res.Diffs = pairedDiffs(res.Optims)
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

func oneRun(ctx context.Context, cfg Config, a Arm, seed int64, dir string, final evalSpec, probe *evalSpec, progress io.Writer) (Run, error) {
	name := a.Name
	tc := runConfig(a, seed, dir)
	r := Run{Optim: name, Seed: seed, Dir: dir, Passes: passes(tc)}
	sumPath := filepath.Join(dir, "summary.json")
	if b, err := os.ReadFile(sumPath); err == nil {
		var s train.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return r, fmt.Errorf("compare: %s: %w", sumPath, err)
		}
		r.Summary = &s
		if err := sameSettings(tc, dir); err != nil {
			return r, err
		}
		fmt.Fprintf(progress, "compare: %s seed %d: finished before, skipped (%s)\n", name, seed, sumPath)
	} else {
		if _, err := os.Stat(filepath.Join(dir, "last.safetensors")); err == nil {
			tc.Resume = true
		}
		fmt.Fprintf(progress, "compare: %s seed %d: training into %s (resume %v)\n", name, seed, dir, tc.Resume)
		start := time.Now()
		s, err := train.Run(ctx, tc, progress)
		if errors.Is(err, train.ErrComplete) {
			err = nil // trained to the end, summary.json not yet written
		}
		if werr := addSession(dir, start, tc.Resume); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return r, fmt.Errorf("compare: %s seed %d: %w", name, seed, err)
		}
		r.Summary = s
	}
	if b, err := os.ReadFile(filepath.Join(dir, "machine.json")); err == nil {
		if err := json.Unmarshal(b, &r.Sessions); err != nil {
			return r, fmt.Errorf("compare: %s: machine.json: %w", dir, err)
		}
	}
	if err := runEval(ctx, cfg, &r, tc, final, probe, progress); err != nil {
		return r, fmt.Errorf("compare: %s seed %d: %w", name, seed, err)
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
		Setup: sharp.Setup{Model: r.Summary.Last, Ann: tc.Ann, Images: tc.Images,
			Batches: cfg.SharpBatches, BatchSize: tc.BatchSize, Seed: seed, Workers: tc.Workers},
		Config: cfg.Sharp, Out: dir, Title: fmt.Sprintf("%s seed %d", name, seed),
	}, progress)
	if err != nil {
		return r, fmt.Errorf("compare: %s seed %d: %w", name, seed, err)
	}
	r.Sharp = rep
	return r, nil
}

// addSession appends this training session to dir/machine.json.
func addSession(dir string, start time.Time, resumed bool) error {
	path := filepath.Join(dir, "machine.json")
	var ss []Session
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &ss); err != nil {
			return fmt.Errorf("compare: %s: %w", path, err)
		}
	}
	ss = append(ss, Session{Machine: ThisMachine(), Started: start.UTC().Format(time.RFC3339),
		WallSeconds: time.Since(start).Seconds(), Resumed: resumed})
	js, _ := json.MarshalIndent(ss, "", "  ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return pose.WriteFileAtomic(path, append(js, '\n'))
}

// runEval reads dir/eval.json and dir/hits.json, or evaluates the run's
// final checkpoint on the final set (and the probe) and writes them.
func runEval(ctx context.Context, cfg Config, r *Run, tc train.Config, final evalSpec, probe *evalSpec, progress io.Writer) error {
	evPath, hitsPath := filepath.Join(r.Dir, "eval.json"), filepath.Join(r.Dir, "hits.json")
	want := func(e *RunEval) bool {
		return e.Checkpoint == cfg.FinalCheckpoint && e.Flip == tc.ValFlip && e.Final != nil &&
			e.Final.Ann == final.ann && (probe == nil) == (e.Probe == nil) && (probe == nil || e.Probe.Ann == probe.ann)
	}
	if b, err := os.ReadFile(evPath); err == nil {
		var e RunEval
		hb, herr := os.ReadFile(hitsPath)
		var h Hits
		if json.Unmarshal(b, &e) == nil && want(&e) && herr == nil && json.Unmarshal(hb, &h) == nil {
			r.Eval, r.hits = &e, &h
			return nil
		}
	}
	if final.ann == "" {
		return nil // no final set: nothing to evaluate
	}
	ckpt := r.Summary.Last
	if cfg.FinalCheckpoint == "best" && r.Summary.Best != "" {
		ckpt = r.Summary.Best
	}
	sets := []evalSpec{final}
	if probe != nil {
		sets = append(sets, *probe)
	}
	fmt.Fprintf(progress, "compare: %s seed %d: evaluating %s on %d set(s)\n", r.Optim, r.Seed, ckpt, len(sets))
	evs, h, err := evaluate(ctx, ckpt, sets, tc.BatchSize, tc.Workers, tc.ValFlip)
	if err != nil {
		return err
	}
	e := &RunEval{Checkpoint: cfg.FinalCheckpoint, Flip: tc.ValFlip, Final: evs[0]}
	if probe != nil {
		e.Probe = evs[1]
	}
	for path, v := range map[string]any{evPath: e, hitsPath: h} {
		js, _ := json.MarshalIndent(v, "", "  ")
		if err := pose.WriteFileAtomic(path, append(js, '\n')); err != nil {
			return err
		}
	}
	r.Eval, r.hits = e, h
	return nil
}

// evalValue returns an eval.json metric of a run (NaN when absent).
func evalValue(r Run, name string) float64 {
	nan := math.NaN()
	e := r.Eval
	if e == nil || e.Final == nil {
		return nan
	}
	switch name {
	case "final PCK@0.2":
		return e.Final.PCK
	case "final PCKh@0.5":
		if e.Final.PCKh != nil {
			return *e.Final.PCKh
		}
	case "final AP":
		return e.Final.OKS.AP
	case "probe PCK@0.2", "gap":
		if e.Probe == nil {
			return nan
		}
		if name == "probe PCK@0.2" {
			return e.Probe.PCK
		}
		val := nan
		if e.Checkpoint == "best" && r.Summary.Best != "" {
			val = r.Summary.BestScore
		} else if r.Summary.Val != nil {
			val = r.Summary.Val.PCK
		}
		return e.Probe.PCK - val
	}
	return nan
}

// sameSettings checks that the finished run in dir was trained with the
// settings tc (last.json holds them), so that a changed command never
// mixes runs of different protocols.
func sameSettings(tc train.Config, dir string) error {
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
	plotted := res
	res = portable(res, dir)
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
	return Plot(plotted, dir)
}

// WriteMarkdown writes the results table: one row per optimizer, mean ±
// std over seeds of every metric.
func WriteMarkdown(w io.Writer, res *Results) {
	p := res.Protocol
	fmt.Fprintf(w, "# Optimizer comparison\n\n")
	fmt.Fprintf(w, "Protocol: %s at %dx%d, %d epochs, batch %d, base LR %g (%s), base optimizer of sam/bsam %s, rho_max %g, rho_min %g, seeds from %d.\n",
		p.Preset, p.InputH, p.InputW, p.Epochs, p.BatchSize, p.LR, p.LRSchedule, p.Base, p.RhoMax, p.RhoMin, p.Seed)
	fmt.Fprintf(w, "Train: `%s`; val: `%s`. Mean ± std over seeds (n runs); validation metrics of the final epoch.\n\n", p.Ann, p.ValAnn)
	writeArms(w, res)
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
		statCells(w, o, Metrics)
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nPer run:\n\n| run | steps | AP | PCK@0.2 | final train loss | MaxS | MinS | top eigenvalue | trace | final PCK@0.2 | final PCKh@0.5 | final AP | probe PCK@0.2 | gap | wall s | train s | machine |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range res.Optims {
		for _, r := range o.Runs {
			fmt.Fprintf(w, "| %s-s%d | %d |", r.Optim, r.Seed, r.Summary.Steps)
			for _, m := range []string{"AP", "PCK@0.2", "final train loss", "MaxS", "MinS", "top eigenvalue", "Hessian trace",
				"final PCK@0.2", "final PCKh@0.5", "final AP", "probe PCK@0.2", "gap", "wall s", "train s"} {
				fmt.Fprintf(w, " %s |", num(runValue(r, m)))
			}
			fmt.Fprintf(w, " %s |\n", machines(r.Sessions))
		}
	}
	writeDiffs(w, res)
	fmt.Fprintf(w, "\nPlots: `val_pck.png` and `train_loss.png` (per epoch, mean line and min–max band over seeds), `val_pck_passes.png` (val PCK@0.2 against gradient passes, epochs × passes per step: equal compute ends at the same x), `train_loss_steps.png` (the same over steps), `metrics.png` (final metrics); per run `runs/<optim>-s<seed>/loss_profile.png`.\n")
}

// statCells writes o's row head (name, runs) and one "mean ± std" cell
// per metric of names ("–" where no run has it).
func statCells(w io.Writer, o *Optim, names []string) {
	fmt.Fprintf(w, "| %s | %d |", o.Name, len(o.Runs))
	for _, m := range names {
		s := o.Stats[m]
		if s.N == 0 {
			fmt.Fprintf(w, " – |")
			continue
		}
		fmt.Fprintf(w, " %s ± %s |", num(s.Mean), num(s.Std))
	}
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.4g", x)
}

// writeArms writes the report table: per arm, mean ± std over seeds of the
// final set's PCK@0.2, PCKh@0.5 and OKS AP, the training probe's PCK@0.2,
// the gap, the cost, and the arm's settings that differ from the protocol.
func writeArms(w io.Writer, res *Results) {
	cols := []string{"final PCK@0.2", "final PCKh@0.5", "final AP", "probe PCK@0.2", "gap", "PCK@0.2", "s/epoch", "passes/step"}
	fmt.Fprintf(w, "Report (final set: `%s`", res.Protocol.ValAnn)
	if res.Dev > 0 {
		fmt.Fprintf(w, "; validation and model choices on the dev split of %d images, `%s`", res.Dev, res.Split)
		if res.Subset != "" {
			fmt.Fprintf(w, "; training on %s of the train part", res.Subset)
		}
		fmt.Fprintf(w, "; probe: the training part's fixed subset, no augmentation; PCK@0.2 is dev's")
	}
	fmt.Fprintf(w, "):\n\n| arm | n |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprintf(w, " settings |\n|---|---|%s---|\n", strings.Repeat("---|", len(cols)))
	for _, o := range res.Optims {
		statCells(w, o, cols)
		fmt.Fprintf(w, " %s |\n", settingsDiff(res.Protocol, o.Settings))
	}
	fmt.Fprintln(w)
}

// settingsDiff lists the optimizer settings of an arm (those that matter
// for its optimizer) that differ from the protocol's.
func settingsDiff(p train.Config, s *train.Config) string {
	if s == nil {
		return ""
	}
	var out []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s=%v", name, b))
		}
	}
	add("optim", "", s.Optim)
	sa := s.Optim == "sam" || s.Optim == "bsam"
	if sa {
		add("base", p.Base, s.Base)
		add("rho-max", p.RhoMax, s.RhoMax)
		if s.Optim == "bsam" {
			add("rho-min", p.RhoMin, s.RhoMin)
			add("bsam-from-center", false, s.FromCenter)
		}
		add("adaptive", false, s.Adaptive)
		if s.Adaptive {
			add("eta", "", s.Eta)
		}
	}
	add("lr", p.LR, s.LR)
	add("lr-schedule", p.LRSchedule, s.LRSchedule)
	add("lr-steps", p.LRSteps, s.LRSteps)
	add("warmup", p.WarmupIters, s.WarmupIters)
	add("momentum", p.Momentum, s.Momentum)
	add("weight-decay", p.WeightDecay, s.WeightDecay)
	add("epochs", p.Epochs, s.Epochs)
	add("batch-size", p.BatchSize, s.BatchSize)
	return strings.Join(out, " ")
}

// writeDiffs writes the paired differences.
func writeDiffs(w io.Writer, res *Results) {
	if len(res.Diffs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPaired differences, arm − baseline on the same seeds and persons (final set). The interval is a percentile bootstrap (%d resamples) drawing the persons and, independently, the seeds with replacement; final AP has no interval (OKS AP is not a per-person mean).\n\n", Resamples)
	fmt.Fprintf(w, "| arm | baseline | metric | seeds | difference | 95 %% interval |\n|---|---|---|---|---|---|\n")
	for _, d := range res.Diffs {
		ci := "–"
		if d.Lo != nil && d.Hi != nil {
			ci = fmt.Sprintf("[%s, %s]", num(*d.Lo), num(*d.Hi))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s |\n", d.Arm, d.Baseline, d.Metric, len(d.Seeds), num(d.Mean), ci)
	}
}

// machines summarises the sessions of a run: the CPU models and ISAs.
func machines(ss []Session) string {
	var out []string
	for _, s := range ss {
		m := s.CPU
		if m == "" {
			m = "unknown CPU"
		}
		m += " (" + s.ISA + ")"
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return "–"
	}
	return strings.Join(out, "; ")
}
