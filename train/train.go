package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/pose/kern"
)

// ErrInterrupted is returned by Run when its context is cancelled (Ctrl-C);
// the last checkpoint then holds the state at the interruption.
var ErrInterrupted = errors.New("train: interrupted; resume with --resume")

// lossHook lets tests replace the loss of a step (1-based) to simulate a
// divergence or an interruption.
var lossHook func(step int, loss float64) float64

// Summary is the final record of a run, also written as summary.json.
type Summary struct {
	Epochs      int           `json:"epochs"`
	Steps       int           `json:"steps"`
	FinalLoss   float64       `json:"final_loss"` // mean training loss of the last epoch
	Val         *pose.Metrics `json:"val,omitempty"`
	BestScore   float64       `json:"best_pck"`
	BestEpoch   int           `json:"best_epoch"`
	WallSeconds float64       `json:"wall_seconds"`
	ImgPerSec   float64       `json:"img_per_s"`
	KernPath    string        `json:"kern_path"` // pose/kern's SGEMM path in this invocation: avx512, avx2 or generic
	EpochLog    []EpochRecord `json:"epoch_log"`
	Last        string        `json:"last_checkpoint"`
	Best        string        `json:"best_checkpoint,omitempty"`
}

// EpochRecord is one line of the per-epoch history.
type EpochRecord struct {
	Epoch     int           `json:"epoch"` // 1-based
	TrainLoss float64       `json:"train_loss"`
	Seconds   float64       `json:"seconds"`
	ImgPerSec float64       `json:"img_per_s"`
	Val       *pose.Metrics `json:"val,omitempty"`
}

// StepRecord is one line of the metrics log (metrics.jsonl).
type StepRecord struct {
	Step     int     `json:"step"`
	Epoch    float64 `json:"epoch"` // fractional
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	ImgPerS  float64 `json:"img_s"`
	// Sharpness-aware extras (zero for plain optimizers).
	AscentGradNorm  float64 `json:"grad_norm_max,omitempty"`
	DescentGradNorm float64 `json:"grad_norm_min,omitempty"`
	MaxS            float64 `json:"max_s,omitempty"`
	MinS            float64 `json:"min_s,omitempty"`
	RhoMin          float64 `json:"rho_min,omitempty"`
	// How the direction handed to the base optimizer relates to the
	// gradient (optim.StepStats): cos(u, g), u·g/||g||², g·sign(u)/||g||₁.
	CosUG     float64 `json:"cos_ug,omitempty"`
	CoefG     float64 `json:"coef_g,omitempty"`
	SignAgree float64 `json:"sign_agree,omitempty"`
}

// Run trains according to cfg, writing checkpoints, metrics.jsonl,
// epochs.jsonl and summary.json into cfg.Out, and progress to progress. It
// returns ErrInterrupted (after saving) when ctx is cancelled.
//
// With cfg.Resume it continues the run from its checkpoint (see
// Config.ResumeFrom): bit for bit as if it had not stopped when the
// settings are the same. Only Epochs may change; any other difference is
// a *MismatchError. A larger Epochs extends the run: the LR schedule is a
// function of the step and of the run's total steps, so from the resumed
// step on it is the schedule of the new length (cosine: the curve over
// Epochs*stepsPerEpoch steps, evaluated from the current step; step: the
// same milestones), and the logs and the summary keep the earlier epochs.
// A run with no epoch left returns its stored summary and ErrComplete
// without writing anything.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, ctx, err := newDistRun(ctx, &cfg) // data parallelism: train/dist.go
	if err != nil {
		return nil, err
	}
	defer d.close()
	progress = d.progress(progress)
	cfgJSON, _ := json.Marshal(cfg)
	var ck *pose.Checkpoint
	var ckPath string
	if cfg.Resume {
		ck, ckPath, err = d.openResume(cfg, cfgJSON)
		if errors.Is(err, ErrComplete) {
			if !d.leader() {
				return &Summary{}, ErrComplete
			}
			sum, serr := completeSummary(cfg, ck.Meta.Train)
			if serr != nil {
				return nil, serr
			}
			return sum, ErrComplete
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.mkdirOut(cfg.Out); err != nil {
		return nil, err
	}
	start := time.Now()

	// Data: load and check before the first step so that a missing file
	// fails in seconds.
	trainDS, err := loadChecked(cfg.Ann, cfg.Images, progress)
	if err != nil {
		return nil, err
	}
	var valDS *coco.Dataset
	if cfg.ValAnn != "" && d.leader() {
		if valDS, err = loadChecked(cfg.ValAnn, cfg.ValImages, progress); err != nil {
			return nil, err
		}
		if valDS.Schema.K() != trainDS.Schema.K() {
			return nil, fmt.Errorf("train: %s has %d joints but %s has %d", cfg.ValAnn, valDS.Schema.K(), cfg.Ann, trainDS.Schema.K())
		}
	}
	schema := trainDS.Schema
	codec := heatmap.NewMSRA(cfg.InputW, cfg.InputH)
	if cfg.Sigma > 0 {
		codec.Sigma = cfg.Sigma
	}
	items := data.Items(trainDS, cfg.Images)
	if len(items) < cfg.BatchSize {
		return nil, fmt.Errorf("train: %s has %d usable persons, fewer than one batch of %d", cfg.Ann, len(items), cfg.BatchSize)
	}
	dcfg := data.Config{InputW: cfg.InputW, InputH: cfg.InputH, Mean: data.ImageNetMean, Std: data.ImageNetStd, DropLast: true, CacheBytes: cfg.CacheMB << 20}
	aug := &data.Aug{ScaleFactor: cfg.ScaleFactor, RotFactor: cfg.RotFactor, RotProb: cfg.RotProb, FlipProb: cfg.FlipProb}
	loader, err := data.NewLoader(items, dcfg, aug, codec, schema.FlipPairs, d.perRank, cfg.Workers, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	stepsPerEpoch := len(items) / cfg.BatchSize // drop_last
	totalSteps := stepsPerEpoch * cfg.Epochs

	net, err := pose.New(pose.Config{Preset: cfg.Preset, InputH: cfg.InputH, InputW: cfg.InputW, Joints: schema.K()}, d.netBatch, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer net.Close()
	if cfg.Pretrained != "" && !cfg.Resume {
		rep, err := net.LoadPretrained(cfg.Pretrained)
		if err != nil {
			return nil, fmt.Errorf("train: --pretrained: %w", err)
		}
		fmt.Fprint(progress, rep)
	}
	params := optimParams(net.Params())
	stepper, lrSched, rhoSched := buildOptimizer(cfg, totalSteps, stepsPerEpoch)
	if err := d.setup(loader, stepper); err != nil {
		return nil, err
	}

	meta := pose.Meta{
		Preset: cfg.Preset, InputH: cfg.InputH, InputW: cfg.InputW, Joints: schema.K(),
		Schema: pose.SchemaOf(schema), Codec: codec, Mean: dcfg.Mean, Std: dcfg.Std,
	}
	state := &pose.TrainState{Seed: cfg.Seed, Optim: cfg.Optim, Config: cfgJSON, BestScore: -1}
	lastPath := filepath.Join(cfg.Out, "last.safetensors")
	bestPath := filepath.Join(cfg.Out, "best.safetensors")
	var history []EpochRecord
	if ck != nil {
		if err := restore(ck, ckPath, net, stepper, params); err != nil {
			return nil, err
		}
		state = ck.Meta.Train
		var saved struct{ Epochs int }
		json.Unmarshal(state.Config, &saved)
		state.Config = cfgJSON // with the new Epochs, if they changed
		if d.leader() {
			if err := trimLogs(cfg.Out, state, progress); err != nil {
				return nil, err
			}
			if history, err = readEpochs(cfg.Out, state.Epoch); err != nil {
				return nil, fmt.Errorf("train: %s: %w", filepath.Join(cfg.Out, epochsFile), err)
			}
		}
		fmt.Fprintf(progress, "resuming %s at epoch %d, step %d\n", ckPath, state.Epoch+1, state.Step)
		if saved.Epochs != cfg.Epochs {
			fmt.Fprintf(progress, "the run now has %d epochs instead of %d: from step %d on, the %s LR schedule of %d epochs (%d steps); step %d has LR %.3g\n",
				cfg.Epochs, saved.Epochs, state.Step+1, cfg.LRSchedule, cfg.Epochs, totalSteps, state.Step+1, lrSched.At(state.Step))
		}
	} else if err := d.broadcastNet(net); err != nil {
		return nil, err
	}

	save := func(path string) error {
		if !d.leader() {
			return nil
		}
		m := meta
		st := *state
		m.Train = &st
		tensors := append(append([]*pose.Tensor{}, net.Params()...), net.Buffers()...)
		extra, counters, err := optimTensors(stepper, params)
		if err != nil {
			return err
		}
		st.Counters = counters
		return pose.SaveCheckpoint(path, m, append(tensors, extra...))
	}

	metricsF, err := os.OpenFile(d.outPath(filepath.Join(cfg.Out, metricsFile)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer metricsF.Close()
	metricsEnc := json.NewEncoder(metricsF)
	epochsF, err := os.OpenFile(d.outPath(filepath.Join(cfg.Out, epochsFile)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer epochsF.Close()
	if len(history) > 0 {
		// A run written before epochs.jsonl existed: start it from
		// summary.json's epoch log.
		if st, err := epochsF.Stat(); err == nil && st.Size() == 0 {
			enc := json.NewEncoder(epochsF)
			for _, r := range history {
				if err := enc.Encode(r); err != nil {
					return nil, fmt.Errorf("train: epoch log: %w", err)
				}
			}
		}
	}
	epochsEnc := json.NewEncoder(epochsF)

	var valEval *pose.Evaluator
	if valDS != nil {
		vcfg := dcfg
		vcfg.DropLast = false
		valEval = pose.NewEvaluator(valDS, cfg.ValImages, net, codec, vcfg, cfg.BatchSize, cfg.Workers, cfg.ValFlip)
	}

	sum := &Summary{Last: lastPath, EpochLog: history, KernPath: kern.Path()}
	if n := len(history); n > 0 {
		sum.FinalLoss, sum.Val = history[n-1].TrainLoss, history[n-1].Val
	}
	bar := newProgress(progress, totalSteps)
	bar.done = state.Step
	imgs := 0
	for epoch := state.Epoch; epoch < cfg.Epochs; epoch++ {
		epochStart := time.Now()
		var lossSum float64
		var lossN int
		skip := state.EpochStep
		i := 0
		for b, err := range loader.Epoch(ctx, epoch) {
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return nil, fmt.Errorf("train: epoch %d: %w", epoch+1, err)
			}
			if i < skip {
				i++
				continue
			}
			i++
			if ctx.Err() != nil {
				break
			}
			t0 := time.Now()
			lr := lrSched.At(state.Step)
			stepper.SetLR(lr)
			rhoMin := 0.0
			if bs, ok := stepper.(*optim.BSAM); ok {
				rhoMin = rhoSched.At(state.Step)
				bs.SetRhoMin(rhoMin)
			}
			loss, err := d.step(stepper, params, net, b) // runs net.TrainStep per pass
			if err != nil {
				return nil, fmt.Errorf("train: step %d: %w", state.Step+1, err)
			}
			if lossHook != nil {
				loss = lossHook(state.Step+1, loss)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("train: step %d (epoch %d): loss is %v; stopped, %s keeps the last good state", state.Step+1, epoch+1, loss, lastPath)
			}
			state.Step++
			state.EpochStep++
			imgs += b.N * d.size
			lossSum += loss
			lossN++
			dt := time.Since(t0).Seconds()
			st := d.last
			if d.leader() && state.Step%cfg.LogEvery == 0 {
				rec := StepRecord{
					Step: state.Step, Epoch: float64(epoch) + float64(state.EpochStep)/float64(stepsPerEpoch),
					Loss: loss, LR: lr, GradNorm: st.GradNorm, ImgPerS: float64(b.N*d.size) / dt,
					AscentGradNorm: st.AscentGradNorm, DescentGradNorm: st.DescentGradNorm,
					MaxS: st.MaxS, MinS: st.MinS, RhoMin: rhoMin,
					CosUG: st.CosUG, CoefG: st.CoefG, SignAgree: st.SignAgree,
				}
				if err := metricsEnc.Encode(rec); err != nil {
					return nil, fmt.Errorf("train: metrics log: %w", err)
				}
			}
			bar.update(state.Step, epoch+1, cfg.Epochs, loss, float64(b.N*d.size)/dt)
			if cfg.MaxSteps > 0 && state.Step >= cfg.MaxSteps {
				break
			}
		}
		bar.finishLine()
		if ctx.Err() != nil {
			if err := d.syncBuffers(net); err != nil {
				return nil, err
			}
			if err := save(lastPath); err != nil {
				return nil, err
			}
			fmt.Fprintf(progress, "interrupted at step %d; saved %s\n", state.Step, lastPath)
			return nil, ErrInterrupted
		}
		rec := EpochRecord{Epoch: epoch + 1, Seconds: time.Since(epochStart).Seconds()}
		if lossN > 0 {
			rec.TrainLoss = lossSum / float64(lossN)
			rec.ImgPerSec = float64(lossN*cfg.BatchSize) / rec.Seconds
		}
		partial := cfg.MaxSteps > 0 && state.Step >= cfg.MaxSteps && state.EpochStep < stepsPerEpoch
		if !partial {
			state.Epoch = epoch + 1
			state.EpochStep = 0
		}
		if err := d.syncBuffers(net); err != nil {
			return nil, err
		}
		if valEval != nil {
			m, err := valEval.Run(ctx)
			if err != nil {
				return nil, fmt.Errorf("train: validation after epoch %d: %w", epoch+1, err)
			}
			rec.Val = m
			fmt.Fprintf(progress, "epoch %d/%d  loss %.6f  val PCK@0.2 %.4f  PCK@0.1 %.4f  AP %.4f  (%.0fs, %.1f img/s)\n",
				epoch+1, cfg.Epochs, rec.TrainLoss, m.PCK, m.PCK01, m.OKS.AP, rec.Seconds, rec.ImgPerSec)
			if m.PCK > state.BestScore {
				state.BestScore, state.BestEpoch = m.PCK, epoch+1
				if err := save(bestPath); err != nil {
					return nil, err
				}
				sum.Best = bestPath
			}
		} else {
			fmt.Fprintf(progress, "epoch %d/%d  loss %.6f  (%.0fs, %.1f img/s)\n", epoch+1, cfg.Epochs, rec.TrainLoss, rec.Seconds, rec.ImgPerSec)
		}
		// The epoch's record goes before its checkpoint, so a crash
		// between the two leaves a record that the resume drops.
		if err := epochsEnc.Encode(rec); err != nil {
			return nil, fmt.Errorf("train: epoch log: %w", err)
		}
		if err := save(lastPath); err != nil {
			return nil, err
		}
		sum.EpochLog = append(sum.EpochLog, rec)
		sum.FinalLoss = rec.TrainLoss
		sum.Val = rec.Val
		if partial {
			break
		}
	}
	sum.Epochs = state.Epoch
	sum.Steps = state.Step
	sum.BestScore, sum.BestEpoch = state.BestScore, state.BestEpoch
	if state.BestEpoch > 0 {
		sum.Best = bestPath
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if sum.WallSeconds > 0 {
		sum.ImgPerSec = float64(imgs) / sum.WallSeconds
	}
	js, _ := json.MarshalIndent(sum, "", "  ")
	if !d.leader() {
		return sum, nil
	}
	if err := pose.WriteFileAtomic(filepath.Join(cfg.Out, summaryFile), append(js, '\n')); err != nil {
		return nil, err
	}
	return sum, nil
}

func loadChecked(ann, images string, progress io.Writer) (*coco.Dataset, error) {
	ds, err := coco.Load(ann)
	if err != nil {
		return nil, err
	}
	rep := coco.Check(ds, images)
	if rep.Fatal() {
		rep.WriteText(progress)
		return nil, fmt.Errorf("train: dataset check of %s failed (see report above)", ann)
	}
	for _, q := range ds.Quirks {
		fmt.Fprintf(progress, "note: %s: %s\n", filepath.Base(ann), q)
	}
	return ds, nil
}

// optimParams exposes the network's tensors to the optimizer, aliasing
// their Value and Grad slices.
func optimParams(ts []*pose.Tensor) []*optim.Param {
	ps := make([]*optim.Param, len(ts))
	for i, t := range ts {
		ps[i] = &optim.Param{Name: t.Name, Value: t.Value, Grad: t.Grad}
	}
	return ps
}

// buildOptimizer maps the flags to an optimizer and its schedules.
func buildOptimizer(cfg Config, totalSteps, stepsPerEpoch int) (optim.Stepper, optim.Schedule, optim.Schedule) {
	name := cfg.Optim
	base := cfg.Base
	if name == "sgd" || name == "adam" || name == "adamw" {
		base = name
	}
	var b optim.Optimizer
	switch base {
	case "sgd":
		b = optim.NewSGD(cfg.LR, cfg.Momentum, cfg.WeightDecay)
	case "adamw":
		b = optim.NewAdamW(cfg.LR, 0.9, 0.999, 1e-8, cfg.WeightDecay)
	default:
		b = optim.NewAdam(cfg.LR, 0.9, 0.999, 1e-8, cfg.WeightDecay)
	}
	b = distBase(cfg, b) // m-sharpness across ranks and groups: train/dist.go
	var s optim.Stepper
	switch name {
	case "sam":
		if cfg.Adaptive {
			s = optim.NewASAM(b, cfg.RhoMax, cfg.Eta)
		} else {
			s = optim.NewSAM(b, cfg.RhoMax)
		}
	case "bsam":
		s = optim.NewBSAM(b, optim.BSAMConfig{RhoMax: cfg.RhoMax, RhoMin: cfg.RhoMin, FromCenter: cfg.FromCenter,
			Adaptive: cfg.Adaptive, Eta: cfg.Eta})
	default:
		s = optim.NewPlain(b)
	}
	warm := min(cfg.WarmupIters, totalSteps)
	var lr optim.Schedule
	lrMin := 0.0
	if cfg.LRSchedule == "step" {
		ms := make([]int, len(cfg.LRSteps))
		for i, e := range cfg.LRSteps {
			ms[i] = e * stepsPerEpoch
		}
		lr = optim.MultiStep{Base: cfg.LR, Milestones: ms, Gamma: cfg.LRGamma, Warmup: warm, WarmupInit: cfg.WarmupRatio * cfg.LR}
		lrMin = cfg.LR
		for range ms {
			lrMin *= cfg.LRGamma
		}
	} else {
		lr = optim.Cosine{Max: cfg.LR, Min: 0, Total: totalSteps, Warmup: warm, WarmupInit: cfg.WarmupRatio * cfg.LR}
	}
	// The official code moves rho_min with the LR: the full radius at the
	// peak LR, 0 at the schedule's floor.
	rho := optim.Proportional{LR: lr, LRMin: lrMin, LRMax: cfg.LR, Min: 0, Max: cfg.RhoMin}
	return s, lr, rho
}

// optimTensors returns the optimizer state as checkpoint tensors named
// "optim.<param>.<slot>" and its step counters.
func optimTensors(s optim.Stepper, params []*optim.Param) ([]*pose.Tensor, map[string]int, error) {
	sf, ok := s.(optim.Stateful)
	if !ok {
		return nil, nil, nil
	}
	st, err := sf.State(params)
	if err != nil {
		return nil, nil, fmt.Errorf("train: optimizer state: %w", err)
	}
	var out []*pose.Tensor
	for name, v := range st.Tensors {
		out = append(out, &pose.Tensor{Name: "optim." + name, Shape: []int{len(v)}, Value: v})
	}
	counters := map[string]int{}
	for name, n := range st.Steps {
		counters[name] = int(n)
	}
	return out, counters, nil
}
