package pose

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"weak"

	"gorgonia.org/gorgonia"

	"github.com/bsampose/bsampose/pose/kern"
)

// EvalLossGrad returns the weighted-MSE loss of the network in eval mode
// (batch norm as the fixed per-channel affine map of the running
// statistics, as Forward computes it) on m images, and overwrites every
// Params()[i].Grad with d loss / d Value of that eval-mode loss. Running
// statistics are never changed. This is the loss whose landscape the
// sharpness measures probe: unlike TrainStep, it is a deterministic
// function of the weights alone (no batch statistics).
//
//   - x: m*3*H*W, NCHW (the normalised input).
//   - target: m*K*h*w heatmaps, row-major (n,k,y,x).
//   - weight: m*K per-joint loss weights; m = len(weight)/K.
//
// The loss is (1/(m*K*h*w)) Σ (weight[n,k]*(p-target))², the loss of
// TrainStep. m may differ from Batch(); the forward pass is an eval graph
// for m images like Forward's (but with convolution and batch norm as
// separate ops, kept apart from Forward's graphs), and the backward pass walks that graph's nodes in
// reverse topological order with the same kernels as the training graph's
// backward ops.
func (n *Net) EvalLossGrad(x, target, weight []float32) (float64, error) {
	if n.closed {
		return 0, ErrClosed
	}
	k, h, w := n.OutputShape()
	if len(weight) == 0 || len(weight)%k != 0 {
		return 0, fmt.Errorf("pose: eval loss: weight has %d values, want a positive multiple of K=%d", len(weight), k)
	}
	m := len(weight) / k
	if err := checkLen("target", target, m*k*h*w); err != nil {
		return 0, err
	}
	if m <= 0 {
		return 0, fmt.Errorf("pose: eval loss: %d images", m)
	}
	g, err := n.runEval(n.evalGrad, false, x, m)
	if err != nil {
		return 0, err
	}
	out := g.outBuf
	t, err := evalTapeOf(g)
	if err != nil {
		return 0, err
	}
	loss := kern.WeightedMSE(m, k, h*w, out, target, weight, t.dy[t.root])
	t.backward()
	return loss, nil
}

// evalTape is the backward program of one eval graph: its op nodes from
// the output to the input, each node's children and a gradient buffer per
// activation node.
type evalTape struct {
	root    *gorgonia.Node
	order   []*gorgonia.Node // op nodes, output first
	kids    map[*gorgonia.Node][]*gorgonia.Node
	value   map[*gorgonia.Node][]float32 // activation values (op output buffers)
	dy      map[*gorgonia.Node][]float32 // d loss / d activation
	set     map[*gorgonia.Node]bool      // dy written in this pass
	scratch map[int][]float32            // by length, for accumulation
	mask    map[int][]float32            // by length, masked residual gradients
}

// evalTapes caches a tape per eval graph; an entry goes when its graph is
// collected (after Close or eviction).
var evalTapes sync.Map // weak.Pointer[graph] -> *evalTape

func evalTapeOf(g *graph) (*evalTape, error) {
	key := weak.Make(g)
	if t, ok := evalTapes.Load(key); ok {
		return t.(*evalTape), nil
	}
	t, err := newEvalTape(g)
	if err != nil {
		return nil, err
	}
	evalTapes.Store(key, t)
	runtime.AddCleanup(g, func(k weak.Pointer[graph]) { evalTapes.Delete(k) }, key)
	return t, nil
}

func newEvalTape(g *graph) (*evalTape, error) {
	sorted, err := gorgonia.Sort(g.g)
	if err != nil {
		return nil, fmt.Errorf("pose: eval gradient: %w", err)
	}
	t := &evalTape{
		root:    g.out,
		kids:    map[*gorgonia.Node][]*gorgonia.Node{},
		value:   map[*gorgonia.Node][]float32{},
		dy:      map[*gorgonia.Node][]float32{},
		set:     map[*gorgonia.Node]bool{},
		scratch: map[int][]float32{},
		mask:    map[int][]float32{},
	}
	for _, nd := range sorted {
		var out []float32
		switch o := nd.Op().(type) {
		case nil:
			continue // input or parameter
		case *convOp:
			out = o.out.data
		case *bnOp:
			out = o.out.data
		case *addOp:
			out = o.out.data
		case *upOp:
			out = o.out.data
		case *poolOp:
			out = o.out.data
		default:
			return nil, fmt.Errorf("pose: eval gradient: unsupported op %v", o)
		}
		it := g.g.From(nd.ID())
		var kids []*gorgonia.Node
		for it.Next() {
			kids = append(kids, it.Node().(*gorgonia.Node))
		}
		t.order = append(t.order, nd)
		t.kids[nd] = kids
		t.value[nd] = out
		t.dy[nd] = make([]float32, len(out))
	}
	if _, ok := t.dy[t.root]; !ok {
		return nil, fmt.Errorf("pose: eval gradient: output node not found")
	}
	if t.order[0] != t.root {
		return nil, fmt.Errorf("pose: eval gradient: output node is not first in topological order")
	}
	return t, nil
}

// input returns the value of child i of nd (an activation; the image
// input has no gradient and is never asked for).
func (t *evalTape) input(nd *gorgonia.Node, i int) []float32 {
	v, ok := t.value[t.kids[nd][i]]
	if !ok {
		panic("pose: eval gradient: input " + t.kids[nd][i].Name() + " is not an activation")
	}
	return v
}

// sink returns where to write the gradient flowing into child i of nd:
// its dy buffer on the first write of the pass, else scratch to be added
// by done.
func (t *evalTape) sink(nd *gorgonia.Node, i int) (dst []float32, done func()) {
	c := t.kids[nd][i]
	dy, ok := t.dy[c]
	if !ok {
		panic("pose: eval gradient: no gradient buffer for " + c.Name())
	}
	if !t.set[c] {
		t.set[c] = true
		return dy, func() {}
	}
	s := t.scratch[len(dy)]
	if s == nil {
		s = make([]float32, len(dy))
		t.scratch[len(dy)] = s
	}
	return s, func() { kern.Add(dy, s, dy) }
}

func (t *evalTape) backward() {
	clear(t.set)
	t.set[t.root] = true
	for _, nd := range t.order {
		dy := t.dy[nd]
		if !t.set[nd] {
			clear(dy) // unreachable from the loss: no gradient flows
		}
		switch o := nd.Op().(type) {
		case *convOp:
			var db []float32
			if o.hasBias {
				db = o.b.Grad
			}
			o.cv.BackwardFilter(o.n, t.inputOrImage(nd, o), dy, o.w.Grad, db, o.ws)
			if o.needDX {
				dst, done := t.sink(nd, 0)
				o.cv.BackwardData(o.n, dy, o.w.Value, dst, o.ws)
				done()
			}
		case *bnOp:
			dst, done := t.sink(nd, 0)
			bnEvalBackward(o, t.input(nd, 0), t.value[nd], dy, dst)
			done()
		case *addOp:
			g := dy
			if o.relu {
				g = t.mask[len(dy)]
				if g == nil {
					g = make([]float32, len(dy))
					t.mask[len(dy)] = g
				}
				kern.ReLUBackward(t.value[nd], dy, g)
			}
			for i := range 2 {
				dst, done := t.sink(nd, i)
				copy(dst, g)
				done()
			}
		case *upOp:
			dst, done := t.sink(nd, 0)
			kern.Upsample2xBackward(o.n, o.c, o.h, o.w, dy, dst)
			done()
		case *poolOp:
			dst, done := t.sink(nd, 0)
			o.p.backward(dy, o.arg, dst)
			done()
		}
	}
}

// inputOrImage returns the conv's input value, the image buffer for the
// first convolution.
func (t *evalTape) inputOrImage(nd *gorgonia.Node, o *convOp) []float32 {
	c := t.kids[nd][0]
	if v, ok := t.value[c]; ok {
		return v
	}
	// The image input node holds the graph's x buffer as its value.
	return f32s(c.Value())
}

// bnEvalBackward is the gradient of eval-mode batch norm (optionally
// fused with ReLU) y = relu?(gamma*(x-rm)/sqrt(rv+eps) + beta): with g = dy
// masked by y > 0 when fused, dx = g*gamma/sqrt(rv+eps),
// dgamma = Σ g*(x-rm)/sqrt(rv+eps) and dbeta = Σ g (float64 sums),
// written into the op's parameter Grads.
func bnEvalBackward(o *bnOp, x, y, dy, dx []float32) {
	hw, c := o.hw, o.c
	for ch := range c {
		is := 1 / math.Sqrt(float64(o.runVar.Value[ch])+bnEps)
		sc := float32(float64(o.gamma.Value[ch]) * is)
		rm := float64(o.runMean.Value[ch])
		var sg, sgx float64
		for i := range o.n {
			off := (i*c + ch) * hw
			xs, ys, gs, ds := x[off:off+hw], y[off:off+hw], dy[off:off+hw], dx[off:off+hw]
			for j, g := range gs {
				if o.relu && !(ys[j] > 0) {
					g = 0
				}
				ds[j] = g * sc
				sg += float64(g)
				sgx += float64(g) * (float64(xs[j]) - rm)
			}
		}
		o.gamma.Grad[ch] = float32(sgx * is)
		o.beta.Grad[ch] = float32(sg)
	}
}
