package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// Data-parallel training (Config.Comm with more than one rank, or
// Config.SharpnessGroup on one process). Run calls the hooks of distRun at
// fixed points; every rank makes the same collectives in the same order:
//
//   - start: rank 0's weights and batch-norm statistics are broadcast
//     (--resume: rank 0's checkpoint file is, and every rank restores it);
//   - every pass of every step (exact mode): one float32 allreduce of all
//     gradients and one float64 allreduce of the loss;
//   - every step (local mode): the base optimizer's direction u, and for
//     BSAM applied at w_min the point w_min too, in one float32 allreduce;
//   - after every step: one float64 allreduce that carries the stop flag
//     (Ctrl-C or SIGTERM on any rank stops every rank after the same step),
//     and in local mode the loss and diagnostics;
//   - before validation, an interrupted save and the end of every epoch: the
//     batch-norm running statistics are averaged.
//
// Rank 0 alone logs, validates and writes files.

// Test hooks.
var (
	// evalModeGrads makes every pass use pose.Net.EvalLossGrad (batch norm
	// from the running statistics): the loss is then a per-sample mean, so
	// N ranks at B/N equal one process at B up to rounding.
	evalModeGrads bool
	// stepHook, if set, is called on every rank after every step.
	stepHook func(rank, step int, params []*optim.Param)
)

// distRun is one rank's side of a data-parallel run.
type distRun struct {
	comm       dist.Comm
	rank, size int
	local      bool // m-sharpness: SAM/BSAM perturb with the rank's own (group's) gradient
	groups     int  // perturbation groups per rank and step (1 unless local)
	perRank    int  // images per rank and step
	netBatch   int  // images per TrainStep: perRank/groups
	evalGrads  bool
	mean       *meanBase      // local mode: the base optimizer's wrapper
	inComm     *time.Duration // if not nil, gradFunc adds the time of its collectives

	orig   context.Context    // the caller's context (signals)
	cancel context.CancelFunc // cancels the agreed context; nil on one rank

	steps               int
	last                optim.StepStats
	flat                []float32
	loss                []float64
	subX, subT, subW    []float32
	saved, snap, bufSum [][]float32
}

// newDistRun checks and normalises the data-parallel settings of cfg (so
// that the checkpointed configuration says what the run computes) and
// returns the rank's state and the context the run must use: on several
// ranks it is cancelled only when every rank has agreed to stop.
func newDistRun(ctx context.Context, cfg *Config) (*distRun, context.Context, error) {
	comm := cfg.Comm
	if comm == nil {
		comm = dist.Single{}
	}
	d := &distRun{comm: comm, rank: comm.Rank(), size: comm.Size(), groups: 1, orig: ctx, evalGrads: evalModeGrads}
	sharp := cfg.Optim == "sam" || cfg.Optim == "bsam"
	switch cfg.SharpnessSync {
	case "", "global":
		if cfg.SharpnessGroup > 0 {
			if cfg.SharpnessSync == "global" {
				return nil, nil, fmt.Errorf("train: --sharpness-group needs --sharpness-sync local")
			}
			d.local = true
		}
	case "local":
		d.local = true
	default:
		return nil, nil, fmt.Errorf("train: --sharpness-sync %q: want global or local", cfg.SharpnessSync)
	}
	if cfg.BatchSize%d.size != 0 {
		return nil, nil, fmt.Errorf("train: --batch-size %d is the global batch and must be a multiple of the %d ranks", cfg.BatchSize, d.size)
	}
	d.perRank = cfg.BatchSize / d.size
	d.netBatch = d.perRank
	if d.local {
		if !sharp {
			return nil, nil, fmt.Errorf("train: --sharpness-sync local and --sharpness-group apply to sam and bsam, not %s", cfg.Optim)
		}
		m := cfg.SharpnessGroup
		if m == 0 {
			m = d.perRank
		}
		if m < 0 || d.perRank%m != 0 {
			return nil, nil, fmt.Errorf("train: --sharpness-group %d must divide the per-rank batch %d (--batch-size %d over %d ranks)", m, d.perRank, cfg.BatchSize, d.size)
		}
		d.groups, d.netBatch = d.perRank/m, m
		cfg.SharpnessSync, cfg.SharpnessGroup = "local", m
	} else {
		cfg.SharpnessSync, cfg.SharpnessGroup = "", 0
	}
	if d.size == 1 {
		return d, ctx, nil
	}
	agreed, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	return d, agreed, nil
}

// distBase wraps the base optimizer of SAM and BSAM in local mode (called
// by buildOptimizer on the settings newDistRun normalised).
func distBase(cfg Config, b optim.Optimizer) optim.Optimizer {
	if cfg.SharpnessSync != "local" {
		return b
	}
	comm := cfg.Comm
	if comm == nil {
		comm = dist.Single{}
	}
	return &meanBase{
		next: b, comm: comm,
		groups: cfg.BatchSize / comm.Size() / cfg.SharpnessGroup,
		values: cfg.Optim == "bsam" && !cfg.FromCenter,
	}
}

// leader reports whether this rank logs, validates and writes files.
func (d *distRun) leader() bool { return d.rank == 0 }

// mkdirOut creates the output folder on rank 0 (the other ranks write
// nothing, so their machines need no --out).
func (d *distRun) mkdirOut(dir string) error {
	if !d.leader() {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// outPath returns path on rank 0 and os.DevNull on the others.
func (d *distRun) outPath(path string) string {
	if d.leader() {
		return path
	}
	return os.DevNull
}

// progress returns w on rank 0 and io.Discard on the others.
func (d *distRun) progress(w io.Writer) io.Writer {
	if d.leader() {
		return w
	}
	return io.Discard
}

// close releases the agreed context.
func (d *distRun) close() {
	if d.cancel != nil {
		d.cancel()
	}
}

// setup shards the loader and finds the local-mode wrapper.
func (d *distRun) setup(loader *data.Loader, s optim.Stepper) error {
	if err := loader.Shard(d.rank, d.size); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if b, ok := s.(interface{ Base() optim.Optimizer }); ok {
		d.mean, _ = b.Base().(*meanBase)
	}
	if d.local && d.mean == nil {
		return fmt.Errorf("train: --sharpness-sync local: the %T optimizer does not expose its base", s)
	}
	return nil
}

// pack copies the Values (grad false) or Grads of ts into d.flat.
func (d *distRun) pack(ts []*pose.Tensor, grad bool) []float32 {
	n := 0
	for _, t := range ts {
		n += len(t.Value)
	}
	if cap(d.flat) < n {
		d.flat = make([]float32, n)
	}
	f := d.flat[:0]
	for _, t := range ts {
		if grad {
			f = append(f, t.Grad...)
		} else {
			f = append(f, t.Value...)
		}
	}
	return f
}

// broadcastNet copies rank 0's weights and batch-norm statistics to every
// rank (the ranks initialise from the same seed, but a run may start from
// other weights).
func (d *distRun) broadcastNet(net *pose.Net) error {
	if d.size == 1 {
		return nil
	}
	ts := append(append([]*pose.Tensor{}, net.Params()...), net.Buffers()...)
	f := d.pack(ts, false)
	if err := d.comm.Bcast32(f, 0); err != nil {
		return fmt.Errorf("train: broadcast weights: %w", err)
	}
	for _, t := range ts {
		f = f[copy(t.Value, f):]
	}
	return nil
}

// syncBuffers replaces every rank's batch-norm running statistics by
// their mean over the ranks.
func (d *distRun) syncBuffers(net *pose.Net) error {
	if d.size == 1 {
		return nil
	}
	ts := net.Buffers()
	f := d.pack(ts, false)
	if err := d.comm.AllreduceSum32(f); err != nil {
		return fmt.Errorf("train: average batch-norm statistics: %w", err)
	}
	inv := 1 / float32(d.size)
	for _, t := range ts {
		for i := range t.Value {
			t.Value[i] = f[i] * inv
		}
		f = f[len(t.Value):]
	}
	return nil
}

// openResume runs openResume on rank 0 and sends its checkpoint to every
// rank: rank 0 reads the file and broadcasts its bytes with the outcome
// (to train, complete, or an error), and the other ranks load the same
// bytes, so their machines need no copy of --out.
func (d *distRun) openResume(cfg Config, cfgJSON []byte) (*pose.Checkpoint, string, error) {
	if d.size == 1 {
		return openResume(cfg, cfgJSON)
	}
	var (
		ck   *pose.Checkpoint
		path string
		oerr error
		raw  []byte
	)
	// hdr: [bytes of the checkpoint, outcome] with outcome 0 to train,
	// 1 complete, -1 refused or unreadable on rank 0.
	hdr := []float64{0, 0}
	if d.leader() {
		ck, path, oerr = openResume(cfg, cfgJSON)
		switch {
		case oerr != nil && !errors.Is(oerr, ErrComplete):
			hdr[1] = -1
		default:
			var rerr error
			if raw, rerr = os.ReadFile(path); rerr != nil {
				hdr[1], oerr = -1, fmt.Errorf("train: --resume: %w", rerr)
			} else {
				hdr[0] = float64(len(raw))
				if errors.Is(oerr, ErrComplete) {
					hdr[1] = 1
				}
			}
		}
	}
	if err := d.comm.AllreduceSum64(hdr); err != nil {
		return nil, "", fmt.Errorf("train: --resume: %w", err)
	}
	if hdr[1] < 0 {
		if d.leader() {
			return nil, path, oerr
		}
		return nil, "", errors.New("train: --resume: rank 0 could not resume (its error ends the job)")
	}
	if !d.leader() {
		raw = make([]byte, int(hdr[0]))
	}
	if err := d.comm.BcastBytes(raw, 0); err != nil {
		return nil, "", fmt.Errorf("train: --resume: %w", err)
	}
	if d.leader() {
		return ck, path, oerr
	}
	f, err := os.CreateTemp("", "bsampose-resume-*.safetensors")
	if err != nil {
		return nil, "", fmt.Errorf("train: --resume: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fmt.Errorf("train: --resume: %w", err)
	}
	if ck, err = pose.LoadCheckpoint(f.Name()); err != nil {
		return nil, "", fmt.Errorf("train: --resume: rank 0's checkpoint: %w", err)
	}
	if hdr[1] == 1 {
		return ck, "rank 0's checkpoint", ErrComplete
	}
	return ck, "rank 0's checkpoint", nil
}

// gradFunc evaluates the loss and gradients on x/target/weight (NCHW, m
// images; m*K*h*w; m*K) and, in exact mode on several ranks, replaces
// them by their mean over the ranks.
func (d *distRun) gradFunc(net *pose.Net, x, target, weight []float32) optim.GradFunc {
	return func(pass optim.Pass) (float64, error) {
		var loss float64
		var err error
		if d.evalGrads {
			loss, err = net.EvalLossGrad(x, target, weight)
		} else {
			loss, err = net.TrainStep(x, target, weight, pass == optim.PassCenter)
		}
		if err != nil || d.size == 1 || d.local {
			return loss, err
		}
		if d.inComm != nil {
			defer func(t0 time.Time) { *d.inComm += time.Since(t0) }(time.Now())
		}
		ts := net.Params()
		f := d.pack(ts, true)
		if err := d.comm.AllreduceSum32(f); err != nil {
			return 0, fmt.Errorf("train: allreduce gradients: %w", err)
		}
		inv := 1 / float32(d.size)
		for _, t := range ts {
			for i := range t.Grad {
				t.Grad[i] = f[i] * inv
			}
			f = f[len(t.Grad):]
		}
		d.loss = append(d.loss[:0], loss)
		if err := d.comm.AllreduceSum64(d.loss); err != nil {
			return 0, fmt.Errorf("train: allreduce loss: %w", err)
		}
		return d.loss[0] / float64(d.size), nil
	}
}

// ExactGradFunc is the GradFunc of one rank in exact data parallelism (for
// benchmarks): net.TrainStep on the rank's images (x: m*3*H*W NCHW, target:
// m*K*h*w, weight: m*K, m = net.Batch()), then the gradients and the loss
// replaced by their means over the ranks of comm. inComm, if not nil,
// accumulates the wall time of the collectives (packing included).
func ExactGradFunc(comm dist.Comm, net *pose.Net, x, target, weight []float32, inComm *time.Duration) optim.GradFunc {
	d := &distRun{comm: comm, rank: comm.Rank(), size: comm.Size(), groups: 1, inComm: inComm}
	return d.gradFunc(net, x, target, weight)
}

// step makes one optimizer step on the rank's batch b (d.perRank images)
// and the agreement that follows it. It returns the loss (in local mode the
// mean over the ranks).
func (d *distRun) step(s optim.Stepper, params []*optim.Param, net *pose.Net, b *data.Batch) (float64, error) {
	if d.mean != nil {
		d.mean.k = 0
	}
	var loss float64
	var err error
	if d.groups == 1 {
		loss, err = s.Step(params, d.gradFunc(net, b.X, b.Target, b.Weight))
		d.last = s.Last()
	} else {
		loss, err = d.groupStep(s, params, net, b)
	}
	if err != nil {
		return loss, err
	}
	if loss, err = d.agree(loss); err != nil {
		return loss, err
	}
	d.steps++
	if stepHook != nil {
		stepHook(d.rank, d.steps, params)
	}
	return loss, nil
}

// groupStep is m-sharpness on one rank: the batch is split into groups
// (group g holds positions g, g+G, g+2G, ...: with G = N it is rank g's
// share of the same batch on N ranks), each group makes its own SAM/BSAM
// passes from w, and meanBase hands the base optimizer the mean direction
// on the last group. The batch-norm running statistics become the mean of
// the groups' updates, as N ranks' averaged statistics would be.
func (d *distRun) groupStep(s optim.Stepper, params []*optim.Param, net *pose.Net, b *data.Batch) (float64, error) {
	G, m := d.groups, d.netBatch
	if b.N != G*m {
		return 0, fmt.Errorf("train: batch of %d images, want %d", b.N, G*m)
	}
	img, hm, k := len(b.X)/b.N, len(b.Target)/b.N, len(b.Weight)/b.N
	d.subX, d.subT, d.subW = grow(d.subX, m*img), grow(d.subT, m*hm), grow(d.subW, m*k)
	bufs := net.Buffers()
	if d.saved == nil {
		d.saved, d.snap, d.bufSum = make([][]float32, len(params)), make([][]float32, len(bufs)), make([][]float32, len(bufs))
	}
	for i, p := range params {
		d.saved[i] = append(d.saved[i][:0], p.Value...)
	}
	for i, t := range bufs {
		d.snap[i] = append(d.snap[i][:0], t.Value...)
		d.bufSum[i] = grow(d.bufSum[i], len(t.Value))
		clear(d.bufSum[i])
	}
	var lossSum float64
	var stats optim.StepStats
	for g := range G {
		if g > 0 {
			for i, p := range params {
				copy(p.Value, d.saved[i])
			}
			for i, t := range bufs {
				copy(t.Value, d.snap[i])
			}
		}
		for j := range m {
			q := g + G*j
			copy(d.subX[j*img:(j+1)*img], b.X[q*img:])
			copy(d.subT[j*hm:(j+1)*hm], b.Target[q*hm:])
			copy(d.subW[j*k:(j+1)*k], b.Weight[q*k:])
		}
		loss, err := s.Step(params, d.gradFunc(net, d.subX, d.subT, d.subW))
		if err != nil {
			return loss, err
		}
		lossSum += loss
		addStats(&stats, s.Last(), 1)
		for i, t := range bufs {
			for j, v := range t.Value {
				d.bufSum[i][j] += v
			}
		}
	}
	inv := 1 / float32(G)
	for i, t := range bufs {
		for j := range t.Value {
			t.Value[j] = d.bufSum[i][j] * inv
		}
	}
	d.last = optim.StepStats{}
	addStats(&d.last, stats, 1/float64(G))
	return lossSum / float64(G), nil
}

// agree is the collective after every step: the stop flag (the caller's
// context cancelled on any rank cancels the agreed context on all), and in
// local mode the loss and diagnostics, averaged.
func (d *distRun) agree(loss float64) (float64, error) {
	if d.size == 1 {
		return loss, nil
	}
	stop := 0.0
	if d.orig.Err() != nil {
		stop = 1
	}
	v := append(d.loss[:0], stop)
	if d.local {
		v = append(v, loss)
		v = appendStats(v, d.last)
	}
	d.loss = v
	if err := d.comm.AllreduceSum64(v); err != nil {
		return loss, fmt.Errorf("train: agree on the step: %w", err)
	}
	if v[0] > 0 {
		d.cancel()
	}
	if d.local {
		inv := 1 / float64(d.size)
		loss = v[1] * inv
		d.last = statsFrom(v[2:], inv)
	}
	return loss, nil
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// addStats adds scale times every float64 field of src to dst.
func addStats(dst *optim.StepStats, src optim.StepStats, scale float64) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range dv.NumField() {
		if f := dv.Field(i); f.Kind() == reflect.Float64 {
			f.SetFloat(f.Float() + scale*sv.Field(i).Float())
		}
	}
}

// appendStats appends the float64 fields of st to v.
func appendStats(v []float64, st optim.StepStats) []float64 {
	sv := reflect.ValueOf(st)
	for i := range sv.NumField() {
		if f := sv.Field(i); f.Kind() == reflect.Float64 {
			v = append(v, f.Float())
		}
	}
	return v
}

// statsFrom is the inverse of appendStats, each value times scale.
func statsFrom(v []float64, scale float64) optim.StepStats {
	var st optim.StepStats
	sv := reflect.ValueOf(&st).Elem()
	for i := range sv.NumField() {
		if f := sv.Field(i); f.Kind() == reflect.Float64 {
			f.SetFloat(v[0] * scale)
			v = v[1:]
		}
	}
	return st
}

// meanBase is the base optimizer of SAM/BSAM in local mode: it collects
// the direction u of the groups' Steps (groups per rank), and on the last
// one hands the wrapped optimizer the mean u over all groups of all ranks,
// at the mean point (values: BSAM applied at w_min, whose w_min differs
// between groups; elsewhere the groups all step from w).
type meanBase struct {
	next   optim.Optimizer
	comm   dist.Comm
	groups int
	values bool
	k      int       // groups collected in this step
	sum    []float32 // Σ u, then Σ w
}

var (
	_ optim.Optimizer = (*meanBase)(nil)
	_ optim.Stateful  = (*meanBase)(nil)
)

func (m *meanBase) LR() float64      { return m.next.LR() }
func (m *meanBase) SetLR(lr float64) { m.next.SetLR(lr) }

func (m *meanBase) Last() optim.StepStats {
	if l, ok := m.next.(interface{ Last() optim.StepStats }); ok {
		return l.Last()
	}
	return optim.StepStats{}
}

func (m *meanBase) State(params []*optim.Param) (optim.State, error) {
	s, ok := m.next.(optim.Stateful)
	if !ok {
		return optim.State{}, optim.ErrNotStateful
	}
	return s.State(params)
}

func (m *meanBase) SetState(params []*optim.Param, st optim.State) error {
	s, ok := m.next.(optim.Stateful)
	if !ok {
		return optim.ErrNotStateful
	}
	return s.SetState(params, st)
}

// Step collects params' Grad (and Value); on the groups-th call of a step
// it sets them to the mean over every group of every rank and steps the
// wrapped optimizer.
func (m *meanBase) Step(params []*optim.Param) error {
	n := 0
	for _, p := range params {
		n += len(p.Grad)
	}
	need := n
	if m.values {
		need *= 2
	}
	if m.k == 0 {
		m.sum = grow(m.sum, need)
		clear(m.sum)
	}
	off := 0
	for _, p := range params {
		for i, v := range p.Grad {
			m.sum[off+i] += v
		}
		if m.values {
			for i, v := range p.Value {
				m.sum[n+off+i] += v
			}
		}
		off += len(p.Grad)
	}
	m.k++
	if m.k < m.groups {
		return nil
	}
	m.k = 0
	if m.comm.Size() > 1 {
		if err := m.comm.AllreduceSum32(m.sum); err != nil {
			return fmt.Errorf("train: allreduce the direction: %w", err)
		}
	}
	inv := 1 / float32(m.groups*m.comm.Size())
	off = 0
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] = m.sum[off+i] * inv
		}
		if m.values {
			for i := range p.Value {
				p.Value[i] = m.sum[n+off+i] * inv
			}
		}
		off += len(p.Grad)
	}
	return m.next.Step(params)
}
