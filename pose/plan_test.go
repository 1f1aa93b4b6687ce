package pose

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"gorgonia.org/gorgonia"

	"github.com/bsampose/bsampose/optim"
)

// peakLive returns the most float32 values of spans live at one position
// of the execution order: no placement can use a smaller arena.
func peakLive(spans []span) int {
	peak := 0
	for _, s := range spans {
		live := 0
		for _, o := range spans {
			if o.first <= s.first && s.first <= o.last {
				live += o.n
			}
		}
		peak = max(peak, live)
	}
	return peak
}

// liveTogether reports whether two values are live at one position of
// the execution order (written out here rather than calling
// span.overlaps, so that the tests check that too).
func liveTogether(a, b span) bool { return a.first <= b.last && b.first <= a.last }

// checkPlacement fails t if two spans whose lifetimes overlap overlap in
// the arena, or if a span lies outside [0, size).
func checkPlacement(t *testing.T, spans []span, off []int, size int) {
	t.Helper()
	for i, a := range spans {
		if off[i] < 0 || off[i]+a.n > size {
			t.Fatalf("span %d %+v at %d: outside the arena [0, %d)", i, a, off[i], size)
		}
		for j, b := range spans[:i] {
			if liveTogether(a, b) && off[i] < off[j]+b.n && off[j] < off[i]+a.n {
				t.Fatalf("spans %d %+v at %d and %d %+v at %d: lifetimes and memory overlap", i, a, off[i], j, b, off[j])
			}
		}
	}
}

func TestPlace(t *testing.T) {
	tests := []struct {
		name  string
		spans []span
		size  int
	}{
		{"none", nil, 0},
		{"one", []span{{0, 0, 5}}, 5},
		// b is read where c is written: they must not share.
		{"chain", []span{{0, 1, 10}, {1, 2, 10}, {2, 3, 10}}, 20},
		{"disjoint reuse", []span{{0, 0, 8}, {1, 1, 4}, {2, 2, 8}}, 8},
		// The small values fit beside each other in the gap the large
		// value's lifetime leaves; slabs of whole values would need 16.
		{"small in gap", []span{{0, 1, 8}, {2, 3, 4}, {2, 3, 4}, {4, 5, 8}}, 8},
		// An activation read by the backward pass stays while the others
		// come and go above it.
		{"long lived", []span{{0, 9, 6}, {1, 2, 6}, {3, 4, 6}, {5, 6, 6}}, 12},
	}
	for _, tc := range tests {
		off, size := place(tc.spans)
		checkPlacement(t, tc.spans, off, size)
		if size != tc.size {
			t.Errorf("%s: arena %d values, want %d", tc.name, size, tc.size)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		spans := make([]span, 1+r.IntN(40))
		for i := range spans {
			first := r.IntN(30)
			spans[i] = span{first: first, last: first + r.IntN(10), n: 1 + r.IntN(100)}
		}
		off, size := place(spans)
		checkPlacement(t, spans, off, size)
		if p := peakLive(spans); size < p {
			t.Fatalf("trial %d: arena %d values, below the peak %d of live values", trial, size, p)
		}
	}
}

// planGraphs returns the graphs of n that exist, by name.
func planGraphs(n *Net) map[string]*graph {
	gs := map[string]*graph{"train": n.train}
	for m, g := range n.eval {
		gs[fmt.Sprint("eval", m)] = g
	}
	for m, g := range n.evalGrad {
		gs[fmt.Sprint("evalgrad", m)] = g
	}
	return gs
}

// planned is one op output of a graph: its node, its lifetime and its
// buffer.
type planned struct {
	nd   *gorgonia.Node
	life span
	data []float32
}

// plannedOutputs returns the op outputs of g in execution order. It
// finds the lifetimes from each node's readers (the graph's edges into
// it) rather than with lifetimes, which walks each reader's inputs.
func plannedOutputs(t *testing.T, g *graph) []planned {
	t.Helper()
	order, err := gorgonia.Sort(g.g)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(order)
	pos := map[*gorgonia.Node]int{}
	for i, nd := range order {
		pos[nd] = i
	}
	var out []planned
	for i, nd := range order {
		op, ok := nd.Op().(outOp)
		if !ok {
			continue
		}
		last := i
		for it := g.g.To(nd.ID()); it.Next(); {
			last = max(last, pos[it.Node().(*gorgonia.Node)])
		}
		out = append(out, planned{nd, span{i, last, len(op.outBuf().data)}, op.outBuf().data})
	}
	return out
}

// sameMemory reports whether a and b share a byte.
func sameMemory(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+4*uintptr(len(b)) && pb < pa+4*uintptr(len(a))
}

// TestPlanNoClash checks the memory plan of every graph of posenet-s and
// ResNet-18 after training and eval passes: two op outputs share memory
// only if their lifetimes do not overlap, and the values read after a
// run (the output, the parameter gradients) share memory with nothing.
func TestPlanNoClash(t *testing.T) {
	for _, p := range []string{PresetPoseNetS, PresetResNet18} {
		n := mustNew(t, Config{Preset: p, InputH: 128, InputW: 96, Joints: 17}, 2, 1)
		x, tg, wt := batchData(n, 1)
		if _, err := n.TrainStep(x, tg, wt, true); err != nil {
			t.Fatal(err)
		}
		if _, err := n.EvalLossGrad(x, tg, wt); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Forward(x[:len(x)/2], 1); err != nil {
			t.Fatal(err)
		}
		for name, g := range planGraphs(n) {
			outs := plannedOutputs(t, g)
			read := map[*gorgonia.Node]bool{g.out: true}
			for _, gd := range g.grads {
				read[gd] = true
			}
			shared := 0
			for i, a := range outs {
				for _, b := range outs[:i] {
					if !sameMemory(a.data, b.data) {
						continue
					}
					shared++
					if liveTogether(a.life, b.life) || read[a.nd] || read[b.nd] {
						t.Errorf("%s %s: %v (%+v) and %v (%+v) share memory", p, name, a.nd.Op(), a.life, b.nd.Op(), b.life)
					}
				}
			}
			if name == "train" && shared == 0 {
				t.Errorf("%s %s: no op outputs share memory (no plan?)", p, name)
			}
		}
	}
}

// TestPlanArenaIsPeak checks that the arenas of the ResNet-18 and
// posenet-s graphs are no larger than the peak of their live values (the
// least any placement can use), and that the training graph's arena is
// below its forward activations plus two of the largest (the activation
// gradients share memory as they go out of use, instead of each having a
// buffer of its own, which alone is as large again as the activations).
func TestPlanArenaIsPeak(t *testing.T) {
	for _, p := range []string{PresetPoseNetS, PresetResNet18} {
		n := mustNew(t, Config{Preset: p, InputH: 128, InputW: 96, Joints: 17}, 2, 1)
		x, tg, wt := batchData(n, 1)
		if _, err := n.TrainStep(x, tg, wt, true); err != nil {
			t.Fatal(err)
		}
		for name, g := range map[string]*graph{"train": n.train, "eval": n.eval[2]} {
			var spans []span
			fwd, largest := 0, 0
			for _, o := range plannedOutputs(t, g) {
				if isForward(o.nd.Op()) {
					fwd += len(o.data)
					largest = max(largest, len(o.data))
				}
				if sameMemory(o.data, g.arena) {
					spans = append(spans, span{o.life.first, o.life.last, roundUp(len(o.data), arenaAlign)})
				}
			}
			peak := peakLive(spans)
			t.Logf("%s %s: arena %.1f MB, peak live %.1f MB, forward activations %.1f MB", p, name,
				4e-6*float64(len(g.arena)), 4e-6*float64(peak), 4e-6*float64(fwd))
			if len(g.arena) > peak {
				t.Errorf("%s %s: arena %d values, want the peak of the live values %d", p, name, len(g.arena), peak)
			}
			if bound := fwd + 2*largest; name == "train" && len(g.arena) > bound {
				t.Errorf("%s %s: arena %d values, want at most %d (forward activations + 2 x the largest)", p, name, len(g.arena), bound)
			}
		}
	}
}

// isForward reports whether op computes an activation of the network
// (rather than a gradient).
func isForward(op gorgonia.Op) bool {
	switch op.(type) {
	case *convOp, *bnOp, *addOp, *upOp, *poolOp, *convBNEvalOp:
		return true
	}
	return false
}

// newPrivate is mustNew with no memory plan: every op output of every
// graph has a buffer of its own.
func newPrivate(t *testing.T, cfg Config, batch int, seed int64) *Net {
	t.Helper()
	n := mustNew(t, cfg, batch, seed)
	n.private = true
	g, err := n.build(batch, false, true)
	if err != nil {
		t.Fatal(err)
	}
	n.eval[batch].vm.Close()
	n.eval[batch] = g
	return n
}

// bitsEqual reports the first index where a and b differ bit for bit,
// or -1.
func bitsEqual(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// sameTensors fails t unless the values and gradients of a and b agree
// bit for bit.
func sameTensors(t *testing.T, what string, a, b []*Tensor) {
	t.Helper()
	for i := range a {
		if j := bitsEqual(a[i].Value, b[i].Value); j >= 0 {
			t.Fatalf("%s: %s value [%d] differs", what, a[i].Name, j)
		}
		if j := bitsEqual(a[i].Grad, b[i].Grad); j >= 0 {
			t.Fatalf("%s: %s grad [%d] differs", what, a[i].Name, j)
		}
	}
}

func params(n *Net) []*optim.Param {
	var ps []*optim.Param
	for _, p := range n.Params() {
		ps = append(ps, &optim.Param{Name: p.Name, Value: p.Value, Grad: p.Grad})
	}
	return ps
}

// TestPlanMatchesPrivate trains a planned and an unplanned (private
// buffers) copy of posenet-s and ResNet-18 for three steps of SGD and of
// BSAM (three passes a step) on different batches: losses, gradients,
// weights and running statistics must agree bit for bit after every
// step, and so must Forward (for the batch size and for one image) and
// EvalLossGrad afterwards. From the second step on, the shared memory
// holds other values' leftovers, so an op that read a buffer it does
// not own, or wrote only part of its output, would show.
func TestPlanMatchesPrivate(t *testing.T) {
	cfgs := []Config{tinyCfg, {Preset: PresetResNet18, InputH: 64, InputW: 64, Joints: 5}}
	steppers := map[string]func() optim.Stepper{
		"sgd": func() optim.Stepper { return optim.NewPlain(optim.NewSGD(0.01, 0.9, 1e-4)) },
		"bsam": func() optim.Stepper {
			return optim.NewBSAM(optim.NewSGD(0.01, 0.9, 1e-4), optim.BSAMConfig{RhoMax: 0.05, RhoMin: 0.01})
		},
	}
	for _, cfg := range cfgs {
		for name, newStepper := range steppers {
			what := cfg.Preset + " " + name
			nets := []*Net{mustNew(t, cfg, 2, 3), newPrivate(t, cfg, 2, 3)}
			opts := []optim.Stepper{newStepper(), newStepper()}
			for step := range 3 {
				x, tg, wt := batchData(nets[0], uint64(10+step))
				var losses [2]float64
				for i, n := range nets {
					grad := func(p optim.Pass) (float64, error) { return n.TrainStep(x, tg, wt, p == optim.PassCenter) }
					var err error
					if losses[i], err = opts[i].Step(params(n), grad); err != nil {
						t.Fatal(err)
					}
				}
				if math.Float64bits(losses[0]) != math.Float64bits(losses[1]) {
					t.Fatalf("%s step %d: loss %v with the plan, %v without", what, step, losses[0], losses[1])
				}
				sameTensors(t, fmt.Sprint(what, " step ", step), nets[0].Params(), nets[1].Params())
				sameTensors(t, fmt.Sprint(what, " step ", step), nets[0].Buffers(), nets[1].Buffers())
			}
			x, tg, wt := batchData(nets[0], 99)
			for _, m := range []int{2, 1} {
				var outs [2][]float32
				for i, n := range nets {
					out, err := n.Forward(x[:len(x)/2*m], m)
					if err != nil {
						t.Fatal(err)
					}
					outs[i] = slices.Clone(out)
				}
				if j := bitsEqual(outs[0], outs[1]); j >= 0 {
					t.Fatalf("%s: Forward(%d images) [%d] differs", what, m, j)
				}
			}
			var losses [2]float64
			for i, n := range nets {
				var err error
				if losses[i], err = n.EvalLossGrad(x, tg, wt); err != nil {
					t.Fatal(err)
				}
			}
			if math.Float64bits(losses[0]) != math.Float64bits(losses[1]) {
				t.Fatalf("%s: eval loss %v with the plan, %v without", what, losses[0], losses[1])
			}
			sameTensors(t, what+" eval grad", nets[0].Params(), nets[1].Params())
		}
	}
}

// TestPrivateSharesNothing checks the reference of TestPlanMatchesPrivate:
// without the plan, no two op outputs share memory.
func TestPrivateSharesNothing(t *testing.T) {
	n := newPrivate(t, tinyCfg, 2, 1)
	x, tg, wt := batchData(n, 1)
	if _, err := n.TrainStep(x, tg, wt, true); err != nil {
		t.Fatal(err)
	}
	for name, g := range planGraphs(n) {
		outs := plannedOutputs(t, g)
		for i, a := range outs {
			for _, b := range outs[:i] {
				if sameMemory(a.data, b.data) {
					t.Fatalf("%s: %v and %v share memory", name, a.nd.Op(), b.nd.Op())
				}
			}
		}
	}
}
