package pose

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsampose/bsampose/pose/arch"
	"github.com/bsampose/bsampose/pose/kern"
)

// Tensor is a named float32 tensor of the network: a trainable parameter
// (Grad non-nil) or a batch-norm running statistic (Grad nil).
//
// Value and Grad have len == product of Shape, row-major. Their backing
// arrays never change for the life of the Net: the graph reads Value in
// place (so an optimizer may update Value between passes) and the backward
// pass writes Grad in place.
type Tensor struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// Net is a pose network built as gorgonia graphs of custom ops: one
// training graph (forward, loss and backward) for a fixed batch size,
// built on the first TrainStep, and one eval-mode forward graph per
// distinct image count passed to Forward (the one for the batch size is
// built by New). All graphs share the parameter and buffer tensors.
//
// A Net is not safe for concurrent use.
type Net struct {
	cfg     Config
	batch   int
	params  []*Tensor
	buffers []*Tensor
	byName  map[string]*Tensor
	rng     *rand.Rand // only during New
	ws      *kern.Workspace
	update  bool // read by the training graph's batch-norm ops
	train   *graph
	eval    map[int]*graph // Forward's graphs (conv and batch norm fused)
	// evalGrad holds EvalLossGrad's eval graphs, which keep convolution
	// and batch norm as separate ops: the batch-norm gradient needs the
	// convolution output. Built on first use.
	evalGrad map[int]*graph
	closed   bool
	// private gives every op output of the graphs built from now on a
	// buffer of its own (no memory plan): the reference the plan's tests
	// compare against.
	private bool
}

// graph is one compiled gorgonia graph with its bound inputs.
type graph struct {
	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	n      int
	x      buffer // n,3,H,W
	target buffer // n,K,h,w (train only)
	weight buffer // n,K (train only)
	out    *gorgonia.Node
	outBuf []float32
	arena  []float32 // the memory plan's shared memory (planBuffers)
	values int       // float32 values of the op output buffers, arena included
	loss   *gorgonia.Node
	grads  gorgonia.Nodes // parallel to Net.params (train only)
}

// New builds the network for cfg with a training graph for batch images
// per step. Parameters are initialised deterministically from seed:
// Kaiming-normal convolutions (fan_out, ReLU gain, as torchvision), batch
// norm gamma 1 and beta 0, running mean 0 and variance 1, and the final
// 1x1 convolution normal with std 0.001 and bias 0 (as mmpose).
func New(cfg Config, batch int, seed int64) (*Net, error) {
	if err := cfg.validate(batch); err != nil {
		return nil, err
	}
	n := &Net{
		cfg:      cfg,
		batch:    batch,
		byName:   map[string]*Tensor{},
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x6273616d706f7365)),
		ws:       new(kern.Workspace),
		eval:     map[int]*graph{},
		evalGrad: map[int]*graph{},
	}
	// The eval graph for batch images creates the tensors; the training
	// graph is built on the first TrainStep, so inference-only users never
	// pay for its buffers.
	g, err := n.build(batch, false, true)
	n.rng = nil
	if err != nil {
		return nil, err
	}
	n.eval[batch] = g
	return n, nil
}

// Config returns the configuration the Net was built with.
func (n *Net) Config() Config { return n.cfg }

// Batch returns the batch size of the training graph.
func (n *Net) Batch() int { return n.batch }

// Params returns the trainable tensors in a stable order (creation order:
// for each layer its convolution weight, then batch-norm weight and bias;
// the final convolution's weight and bias last).
func (n *Net) Params() []*Tensor { return n.params }

// Buffers returns the batch-norm running statistics (…bn.running_mean,
// …bn.running_var) in a stable order.
func (n *Net) Buffers() []*Tensor { return n.buffers }

// NumParams returns the number of trainable scalars.
func (n *Net) NumParams() int {
	s := 0
	for _, p := range n.params {
		s += len(p.Value)
	}
	return s
}

// OutputShape returns the heatmap shape per image: K x InputH/4 x InputW/4.
func (n *Net) OutputShape() (k, h, w int) {
	return n.cfg.Joints, n.cfg.InputH / 4, n.cfg.InputW / 4
}

// ErrClosed is returned by a Net after Close.
var ErrClosed = errors.New("pose: net is closed")

// TrainStep runs a training-mode forward and backward pass on one batch of
// exactly Batch() images and returns the loss. x: N*3*H*W (NCHW, the
// normalised input); target: N*K*h*w heatmaps; weight: N*K per-joint loss
// weights, with N = Batch() and (K,h,w) = OutputShape(). It overwrites
// every Params()[i].Grad with d loss / d Value. Batch-norm running
// statistics are updated (momentum 0.1, unbiased variance) only when
// updateStats is true; with false they stay bit-identical, as the
// perturbed passes of SAM and BSAM need.
func (n *Net) TrainStep(x, target, weight []float32, updateStats bool) (float64, error) {
	if n.closed {
		return 0, ErrClosed
	}
	if n.train == nil {
		g, err := n.build(n.batch, true, false)
		if err != nil {
			return 0, err
		}
		n.train = g
	}
	g := n.train
	if err := checkLen("x", x, len(g.x.data)); err != nil {
		return 0, err
	}
	if err := checkLen("target", target, len(g.target.data)); err != nil {
		return 0, err
	}
	if err := checkLen("weight", weight, len(g.weight.data)); err != nil {
		return 0, err
	}
	copy(g.x.data, x)
	copy(g.target.data, target)
	copy(g.weight.data, weight)
	n.update = updateStats
	err := g.vm.RunAll()
	n.update = false
	if err != nil {
		g.vm.Reset()
		return 0, fmt.Errorf("pose: train step: %w", err)
	}
	loss := float64(scalar(g.loss.Value()))
	for i, p := range n.params {
		gv := f32s(g.grads[i].Value())
		if len(gv) != len(p.Grad) {
			g.vm.Reset()
			return 0, fmt.Errorf("pose: train step: gradient of %s has %d values, want %d", p.Name, len(gv), len(p.Grad))
		}
		if unsafe.SliceData(gv) != unsafe.SliceData(p.Grad) {
			copy(p.Grad, gv) // not expected: our ops write Grad in place
		}
	}
	g.vm.Reset()
	return loss, nil
}

// Forward runs the network in eval mode (batch norm with the running
// statistics) on m images, x: m*3*H*W (NCHW), and returns m*K*h*w
// heatmaps (row-major n,k,y,x). The returned slice is an internal buffer,
// valid until the next call of Forward with the same m (copy it to keep
// it). The eval graph for each distinct m is built on first use and kept
// (at most 4 are kept; the one for Batch() images always).
func (n *Net) Forward(x []float32, m int) ([]float32, error) {
	if n.closed {
		return nil, ErrClosed
	}
	if m <= 0 {
		return nil, fmt.Errorf("pose: forward: %d images", m)
	}
	g, err := n.runEval(n.eval, true, x, m)
	if err != nil {
		return nil, err
	}
	return g.outBuf, nil
}

// runEval runs the eval graph for m images from graphs (built with
// conv-batch-norm fusion if fuse, and kept there) on x.
func (n *Net) runEval(graphs map[int]*graph, fuse bool, x []float32, m int) (*graph, error) {
	g, ok := graphs[m]
	if !ok {
		n.evictEval(graphs)
		var err error
		if g, err = n.build(m, false, fuse); err != nil {
			return nil, err
		}
		graphs[m] = g
	}
	if err := checkLen("x", x, len(g.x.data)); err != nil {
		return nil, err
	}
	copy(g.x.data, x)
	err := g.vm.RunAll()
	g.vm.Reset()
	if err != nil {
		return nil, fmt.Errorf("pose: forward: %w", err)
	}
	return g, nil
}

// Close releases the graphs. The tensors stay valid.
func (n *Net) Close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, g := range append(append([]*graph{n.train}, mapValues(n.eval)...), mapValues(n.evalGrad)...) {
		if g != nil && g.vm != nil {
			errs = append(errs, g.vm.Close())
		}
	}
	n.train, n.eval, n.evalGrad = nil, nil, nil
	return errors.Join(errs...)
}

// maxEvalGraphs bounds the eval graphs kept for distinct image counts.
const maxEvalGraphs = 4

// evictEval drops graphs from an eval graph map (never Forward's one
// for the training batch size) until there is room for one more.
func (n *Net) evictEval(graphs map[int]*graph) {
	for m, g := range graphs {
		if len(graphs) < maxEvalGraphs {
			return
		}
		if m != n.batch || graphs[m] != n.eval[m] {
			g.vm.Close()
			delete(graphs, m)
		}
	}
}

func mapValues(m map[int]*graph) []*graph {
	out := make([]*graph, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	return out
}

func checkLen(name string, s []float32, want int) error {
	if len(s) != want {
		return fmt.Errorf("pose: %s has %d values, want %d", name, len(s), want)
	}
	return nil
}

// ---------------------------------------------------------------- building

// build creates and compiles a graph for nb images; an eval graph fuses
// each convolution with its batch norm if fuse. The first graph (built
// by New) creates the tensors; later graphs look them up by name.
func (n *Net) build(nb int, train, fuse bool) (*graph, error) {
	cfg := n.cfg
	gr := &graph{g: gorgonia.NewGraph(), n: nb}
	b := &builder{net: n, gr: gr, train: train, fuse: fuse && !train, nodes: map[string]*gorgonia.Node{}}
	gr.x = allocBuffer(nb, 3, cfg.InputH, cfg.InputW)
	xn := gorgonia.NewTensor(gr.g, tensor.Float32, 4, gorgonia.WithShape(gr.x.shape...),
		gorgonia.WithName("input"), gorgonia.WithValue(gr.x.dense))
	in := act{node: xn, c: 3, h: cfg.InputH, w: cfg.InputW, image: true}
	desc, err := cfg.Arch()
	if err != nil {
		return nil, err
	}
	out := b.fromArch(desc, in)
	if b.err != nil {
		return nil, fmt.Errorf("pose: build %s: %w", cfg.Preset, b.err)
	}
	k, h, w := n.OutputShape()
	if out.c != k || out.h != h || out.w != w {
		return nil, fmt.Errorf("pose: build %s: output %dx%dx%d, want %dx%dx%d", cfg.Preset, out.c, out.h, out.w, k, h, w)
	}
	gr.out = out.node
	if train {
		gr.target = allocBuffer(nb, k, h, w)
		gr.weight = allocBuffer(nb, k)
		tn := gorgonia.NewTensor(gr.g, tensor.Float32, 4, gorgonia.WithShape(gr.target.shape...),
			gorgonia.WithName("target"), gorgonia.WithValue(gr.target.dense))
		wn := gorgonia.NewTensor(gr.g, tensor.Float32, 2, gorgonia.WithShape(gr.weight.shape...),
			gorgonia.WithName("target_weight"), gorgonia.WithValue(gr.weight.dense))
		lo := &lossOp{opBase: newBase("loss"), n: nb, k: k, hw: h * w, dp: allocBuffer(nb, k, h, w)}
		loss, err := gorgonia.ApplyOp(lo, out.node, tn, wn)
		if err != nil {
			return nil, fmt.Errorf("pose: build loss: %w", err)
		}
		gr.loss = loss
		wrt := make(gorgonia.Nodes, len(n.params))
		for i, p := range n.params {
			wrt[i] = b.nodes[p.Name]
		}
		if gr.grads, err = backprop(loss, wrt); err != nil {
			return nil, fmt.Errorf("pose: build gradients: %w", err)
		}
	}
	// Read after a run: the output (Forward) and the parameter gradients
	// (TrainStep; those our ops write into Tensor.Grad are bound already).
	// EvalLossGrad reads every activation of its (unfused eval) graphs
	// after the run, so those keep a buffer per activation.
	keep := append(gorgonia.Nodes{gr.out}, gr.grads...)
	if gr.arena, gr.values, err = planBuffers(gr.g, keep, n.private || (!train && !fuse)); err != nil {
		return nil, fmt.Errorf("pose: build %s: memory plan: %w", cfg.Preset, err)
	}
	gr.outBuf = gr.out.Op().(outOp).outBuf().data
	gr.vm = gorgonia.NewTapeMachine(gr.g)
	return gr, nil
}

// act is an activation node with its per-image shape (c,h,w).
type act struct {
	node    *gorgonia.Node
	c, h, w int
	image   bool // the network input: no gradient is needed
}

type builder struct {
	net   *Net
	gr    *graph
	train bool
	fuse  bool                      // eval graph with fused conv + batch norm ops
	nodes map[string]*gorgonia.Node // parameter and buffer nodes of this graph
	err   error
}

// tensor returns the named tensor, creating it (with init) on the first
// build. grad says whether it is trainable.
func (b *builder) tensor(name string, shape []int, grad bool, init func([]float32)) *Tensor {
	n := b.net
	if t, ok := n.byName[name]; ok {
		return t
	}
	if n.rng == nil {
		panic("pose: tensor " + name + " missing from the first graph")
	}
	size := tensor.Shape(shape).TotalSize()
	t := &Tensor{Name: name, Shape: shape, Value: make([]float32, size)}
	init(t.Value)
	if grad {
		t.Grad = make([]float32, size)
		n.params = append(n.params, t)
	} else {
		n.buffers = append(n.buffers, t)
	}
	n.byName[name] = t
	return t
}

// param returns the graph node bound to the named trainable tensor.
func (b *builder) param(name string, shape []int, init func([]float32)) (*Tensor, *gorgonia.Node) {
	t := b.tensor(name, shape, true, init)
	nd := gorgonia.NewTensor(b.gr.g, tensor.Float32, len(shape), gorgonia.WithShape(shape...),
		gorgonia.WithName(name), gorgonia.WithValue(newBuffer(t.Value, shape...).dense))
	b.nodes[name] = nd
	return t, nd
}

func (b *builder) apply(op gorgonia.Op, c, h, w int, in ...*gorgonia.Node) act {
	if b.err != nil {
		return act{c: c, h: h, w: w}
	}
	nd, err := gorgonia.ApplyOp(op, in...)
	if err != nil {
		b.err = fmt.Errorf("%v: %w", op, err)
	}
	return act{node: nd, c: c, h: h, w: w}
}

func (b *builder) kaiming(outC, kh, kw int) func([]float32) {
	std := math.Sqrt(2 / float64(outC*kh*kw))
	return b.normal(std)
}

func (b *builder) normal(std float64) func([]float32) {
	return func(v []float32) {
		for i := range v {
			v[i] = float32(b.net.rng.NormFloat64() * std)
		}
	}
}

func fill(x float32) func([]float32) {
	return func(v []float32) {
		for i := range v {
			v[i] = x
		}
	}
}

func (b *builder) convFull(name string, x act, outC, k, stride, pad int, bias bool, winit func([]float32)) act {
	cv := kern.Conv{InC: x.c, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad, InH: x.h, InW: x.w}
	wt, wn := b.param(name+".weight", []int{outC, x.c, k, k}, winit)
	op := &convOp{opBase: newBase(name), cv: cv, n: b.gr.n, hasBias: bias, needDX: !x.image,
		w: wt, ws: b.net.ws, out: unbound(b.gr.n, outC, cv.OutH(), cv.OutW())}
	in := []*gorgonia.Node{x.node, wn}
	if bias {
		bt, bn := b.param(name+".bias", []int{outC}, fill(0))
		op.b = bt
		in = append(in, bn)
	}
	return b.apply(op, outC, cv.OutH(), cv.OutW(), in...)
}

// bnFull adds batch norm named name (name.weight, name.bias,
// name.running_mean, name.running_var), fused with the ReLU that follows
// it if relu.
func (b *builder) bnFull(name string, x act, relu bool) act {
	c := x.c
	gt, gn := b.param(name+".weight", []int{c}, fill(1))
	bt, bn := b.param(name+".bias", []int{c}, fill(0))
	rm := b.tensor(name+".running_mean", []int{c}, false, fill(0))
	rv := b.tensor(name+".running_var", []int{c}, false, fill(1))
	op := &bnOp{opBase: newBase(name), n: b.gr.n, c: c, hw: x.h * x.w, train: b.train, relu: relu, update: &b.net.update,
		gamma: gt, beta: bt, runMean: rm, runVar: rv, out: unbound(b.gr.n, c, x.h, x.w)}
	if b.train {
		op.mean, op.invStd = make([]float32, c), make([]float32, c)
	}
	return b.apply(op, c, x.h, x.w, x.node, gn, bn)
}

// add is the residual join x+y, or max(x+y, 0) if relu.
func (b *builder) add(name string, x, y act, relu bool) act {
	op := &addOp{opBase: newBase(name), relu: relu, out: unbound(b.gr.n, x.c, x.h, x.w)}
	return b.apply(op, x.c, x.h, x.w, x.node, y.node)
}

func (b *builder) up(name string, x act) act {
	op := &upOp{opBase: newBase(name), n: b.gr.n, c: x.c, h: x.h, w: x.w, out: unbound(b.gr.n, x.c, 2*x.h, 2*x.w)}
	return b.apply(op, x.c, 2*x.h, 2*x.w, x.node)
}

func (b *builder) pool(name string, x act) act {
	p := maxPool{n: b.gr.n, c: x.c, h: x.h, w: x.w}
	op := &poolOp{opBase: newBase(name), p: p, arg: make([]int32, b.gr.n*x.c*p.outH()*p.outW()),
		out: unbound(b.gr.n, x.c, p.outH(), p.outW())}
	return b.apply(op, x.c, p.outH(), p.outW(), x.node)
}

// convBN is a bias-free k x k convolution named convName followed by
// batch norm named bnName (and ReLU if relu). Training graphs keep them
// as two ops (the batch statistics need the whole convolution output);
// eval graphs use one fused op that applies the running statistics while
// the convolution output is in cache. Both create the same tensors in the
// same order. EvalLossGrad's eval graphs are not fused.
func (b *builder) convBN(convName, bnName string, x act, outC, k, stride, pad int, relu bool) act {
	if !b.fuse {
		return b.bnFull(bnName, b.convFull(convName, x, outC, k, stride, pad, false, b.kaiming(outC, k, k)), relu)
	}
	cv := kern.Conv{InC: x.c, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad, InH: x.h, InW: x.w}
	_, wn := b.param(convName+".weight", []int{outC, x.c, k, k}, b.kaiming(outC, k, k))
	gt, gn := b.param(bnName+".weight", []int{outC}, fill(1))
	bt, bn := b.param(bnName+".bias", []int{outC}, fill(0))
	rm := b.tensor(bnName+".running_mean", []int{outC}, false, fill(0))
	rv := b.tensor(bnName+".running_var", []int{outC}, false, fill(1))
	op := &convBNEvalOp{opBase: newBase(convName + "+" + bnName), cv: cv, n: b.gr.n, relu: relu,
		gamma: gt, beta: bt, runMean: rm, runVar: rv, ws: b.net.ws,
		out: unbound(b.gr.n, outC, cv.OutH(), cv.OutW())}
	return b.apply(op, outC, cv.OutH(), cv.OutW(), x.node, wn, gn, bn)
}

// fromArch adds the nodes of the description to the graph, fusing
// Conv -> BatchNorm [-> ReLU] into convBN, BatchNorm -> ReLU into one op
// and Add -> ReLU into one op, and returns the output activation. Tensors
// are created in node order (the order of desc.Tensors()).
func (b *builder) fromArch(desc *arch.Net, in act) act {
	acts := make([]act, len(desc.Nodes))
	acts[0] = in
	done := make([]bool, len(desc.Nodes))
	for i := 1; i < len(desc.Nodes) && b.err == nil; i++ {
		if done[i] {
			continue
		}
		n := desc.Nodes[i]
		x := acts[n.In[0]]
		end := i
		// absorb marks the single user of node `end` with op op as fused.
		absorb := func(op arch.Op) bool {
			u := desc.Only(end, op)
			if u < 0 {
				return false
			}
			done[u], end = true, u
			return true
		}
		var out act
		switch n.Op {
		case arch.Conv:
			if !n.Bias && absorb(arch.BatchNorm) {
				bnName := desc.Nodes[end].Name
				out = b.convBN(n.Name, bnName, x, n.C, n.K, n.Stride, n.Pad, absorb(arch.ReLU))
				break
			}
			winit := b.kaiming(n.C, n.K, n.K)
			if n.InitStd > 0 {
				winit = b.normal(n.InitStd)
			}
			out = b.convFull(n.Name, x, n.C, n.K, n.Stride, n.Pad, n.Bias, winit)
		case arch.BatchNorm:
			out = b.bnFull(n.Name, x, absorb(arch.ReLU))
		case arch.Add:
			out = b.add(n.Name, x, acts[n.In[1]], absorb(arch.ReLU))
		case arch.Upsample:
			out = b.up(n.Name, x)
		case arch.MaxPool:
			out = b.pool(n.Name, x)
		default:
			b.err = fmt.Errorf("node %d (%s %s): no gorgonia op for it on its own", i, n.Op, n.Name)
		}
		acts[end] = out
	}
	return acts[len(acts)-1]
}
