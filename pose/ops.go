package pose

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/bsampose/bsampose/pose/kern"
)

// The custom gorgonia ops of the network. Every op instance belongs to
// exactly one node of one graph and owns its output buffer, bound once
// when the graph is built (planBuffers, plan.go): Do overwrites that
// buffer and returns the same *tensor.Dense on every run. This is the
// static memory plan; it does not depend on the tape machine's
// registers, which Reset drops.
//
// Ops that need state from their forward pass in the backward pass (batch
// norm mean and 1/std, max-pool arg-max) keep it in op-private buffers
// that only the forward op writes and only its backward op reads. All
// values that flow along graph edges are read through the inputs, and
// nothing else: the memory plan's liveness comes from the edges alone,
// so an op that read another op's output buffer directly (not through an
// input) could find it reused.
//
// The ops are symbolic-differentiation ops (gorgonia.SDOp) for backprop
// and the tape machine; they do not implement ADOp, so the Lisp machine
// cannot run them.

var opSerial atomic.Int64

// opBase carries the Op methods shared by all our ops. Each instance gets
// a unique serial number in its hash so that gorgonia's hash-consing of
// graph nodes never merges two of our nodes.
type opBase struct {
	name string
	id   int64
}

func newBase(name string) opBase { return opBase{name: name, id: opSerial.Add(1)} }

func (o *opBase) ReturnsPtr() bool      { return false }
func (o *opBase) CallsExtern() bool     { return false }
func (o *opBase) OverwritesInput() int  { return -1 }
func (o *opBase) String() string        { return o.name }
func (o *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "bsampose.%s#%d", o.name, o.id) }
func (o *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// buffer is a preallocated float32 output with its tensor view.
type buffer struct {
	data  []float32
	dense *tensor.Dense
	shape tensor.Shape
}

func newBuffer(data []float32, shape ...int) buffer {
	s := tensor.Shape(shape).Clone()
	if s.TotalSize() != len(data) {
		panic(fmt.Sprintf("pose: buffer of %d values for shape %v", len(data), s))
	}
	return buffer{data: data, dense: tensor.New(tensor.WithShape(s...), tensor.WithBacking(data)), shape: s}
}

func allocBuffer(shape ...int) buffer {
	return newBuffer(make([]float32, tensor.Shape(shape).TotalSize()), shape...)
}

// unbound returns a buffer with a shape but no data yet: the memory plan
// (planBuffers) binds it once the whole graph is built.
func unbound(shape ...int) buffer { return buffer{shape: tensor.Shape(shape).Clone()} }

// outOp is an op that owns its output buffer. planBuffers binds the
// buffers that are still unbound.
type outOp interface {
	gorgonia.Op
	outBuf() *buffer
}

var (
	tt1 = gorgonia.TensorType{Dims: 1, Of: tensor.Float32}
	tt2 = gorgonia.TensorType{Dims: 2, Of: tensor.Float32}
	tt4 = gorgonia.TensorType{Dims: 4, Of: tensor.Float32}
)

// fnType returns a fresh function type (gorgonia returns it to a pool
// after use, so it must not be cached).
func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// f32s returns the float32 backing slice of a tensor value.
func f32s(v gorgonia.Value) []float32 {
	switch t := v.(type) {
	case *tensor.Dense:
		return t.Float32s()
	case tensor.Tensor:
		return t.Data().([]float32)
	}
	panic(fmt.Sprintf("pose: value of type %T is not a float32 tensor", v))
}

// scalar returns the value of a float32 scalar.
func scalar(v gorgonia.Value) float32 {
	switch t := v.(type) {
	case *gorgonia.F32:
		return float32(*t)
	case *tensor.Dense:
		return t.Float32s()[0]
	}
	panic(fmt.Sprintf("pose: value of type %T is not a float32 scalar", v))
}

func checkInputs(o *opBase, want int, in []gorgonia.Value) error {
	if len(in) != want {
		return fmt.Errorf("pose: %s: %d inputs, want %d", o.name, len(in), want)
	}
	return nil
}

// ---------------------------------------------------------------- conv

// convOp is a 2-d convolution y = conv(x, w) (+ bias): inputs x
// (N,InC,InH,InW), w (OutC,InC,KH,KW) and, if hasBias, bias (OutC);
// output (N,OutC,OutH,OutW).
type convOp struct {
	opBase
	cv      kern.Conv
	n       int
	hasBias bool
	needDX  bool // false when x is the image: no input gradient is built
	w, b    *Tensor
	ws      *kern.Workspace
	out     buffer
}

func (o *convOp) Arity() int {
	if o.hasBias {
		return 3
	}
	return 2
}
func (o *convOp) Type() hm.Type {
	if o.hasBias {
		return fnType(tt4, tt4, tt1, tt4)
	}
	return fnType(tt4, tt4, tt4)
}
func (o *convOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *convOp) outBuf() *buffer                                       { return &o.out }
func (o *convOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, o.Arity(), in); err != nil {
		return nil, err
	}
	var bias []float32
	if o.hasBias {
		bias = f32s(in[2])
	}
	o.cv.Forward(o.n, f32s(in[0]), f32s(in[1]), bias, o.out.data, o.ws)
	return o.out.dense, nil
}
func (o *convOp) DiffWRT(int) []bool {
	if o.hasBias {
		return []bool{o.needDX, true, true}
	}
	return []bool{o.needDX, true}
}
func (o *convOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	res := make(gorgonia.Nodes, len(in))
	var err error
	if o.needDX {
		bd := &convBwdDataOp{opBase: newBase(o.name + ".dx"), cv: o.cv, n: o.n, ws: o.ws,
			out: unbound(o.n, o.cv.InC, o.cv.InH, o.cv.InW)}
		if res[0], err = gorgonia.ApplyOp(bd, grad, in[1]); err != nil {
			return nil, err
		}
	}
	bf := &convBwdFilterOp{opBase: newBase(o.name + ".dw"), cv: o.cv, n: o.n, ws: o.ws,
		out: newBuffer(o.w.Grad, o.w.Shape...)}
	if res[1], err = gorgonia.ApplyOp(bf, in[0], grad); err != nil {
		return nil, err
	}
	if o.hasBias {
		bb := &biasGradOp{opBase: newBase(o.name + ".db"), n: o.n, c: o.cv.OutC,
			hw: o.cv.OutH() * o.cv.OutW(), out: newBuffer(o.b.Grad, o.b.Shape...)}
		if res[2], err = gorgonia.ApplyOp(bb, grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// convBwdDataOp: inputs dy (N,OutC,OutH,OutW), w; output dx (N,InC,InH,InW).
type convBwdDataOp struct {
	opBase
	cv  kern.Conv
	n   int
	ws  *kern.Workspace
	out buffer
}

func (o *convBwdDataOp) Arity() int    { return 2 }
func (o *convBwdDataOp) Type() hm.Type { return fnType(tt4, tt4, tt4) }
func (o *convBwdDataOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.out.shape, nil
}
func (o *convBwdDataOp) outBuf() *buffer { return &o.out }
func (o *convBwdDataOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	o.cv.BackwardData(o.n, f32s(in[0]), f32s(in[1]), o.out.data, o.ws)
	return o.out.dense, nil
}

// convBwdFilterOp: inputs x, dy; output dw (OutC,InC,KH,KW), backed by
// the weight's Tensor.Grad.
type convBwdFilterOp struct {
	opBase
	cv  kern.Conv
	n   int
	ws  *kern.Workspace
	out buffer
}

func (o *convBwdFilterOp) Arity() int    { return 2 }
func (o *convBwdFilterOp) Type() hm.Type { return fnType(tt4, tt4, tt4) }
func (o *convBwdFilterOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.out.shape, nil
}
func (o *convBwdFilterOp) outBuf() *buffer { return &o.out }
func (o *convBwdFilterOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	o.cv.BackwardFilter(o.n, f32s(in[0]), f32s(in[1]), o.out.data, nil, o.ws)
	return o.out.dense, nil
}

// biasGradOp: input dy (N,C,H,W); output db (C), the sum of dy over N, H
// and W accumulated in float64, backed by the bias's Tensor.Grad.
type biasGradOp struct {
	opBase
	n, c, hw int
	out      buffer
}

func (o *biasGradOp) Arity() int                                            { return 1 }
func (o *biasGradOp) Type() hm.Type                                         { return fnType(tt4, tt1) }
func (o *biasGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *biasGradOp) outBuf() *buffer                                       { return &o.out }
func (o *biasGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 1, in); err != nil {
		return nil, err
	}
	dy := f32s(in[0])
	for c := range o.c {
		var s float64
		for i := range o.n {
			for _, v := range dy[(i*o.c+c)*o.hw : (i*o.c+c+1)*o.hw] {
				s += float64(v)
			}
		}
		o.out.data[c] = float32(s)
	}
	return o.out.dense, nil
}

// ---------------------------------------------------------------- batch norm

// Batch-norm hyper-parameters (PyTorch defaults, as in the spec).
const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// bnOp is 2-d batch norm, fused with a following ReLU when relu is set:
// inputs x (N,C,H,W), gamma (C), beta (C); output y (N,C,H,W). In training
// mode it normalises with the batch statistics
// and, only when *update is true, updates the running statistics; in eval
// mode it uses the running statistics.
type bnOp struct {
	opBase
	n, c, hw     int
	train, relu  bool
	update       *bool
	gamma, beta  *Tensor
	runMean      *Tensor
	runVar       *Tensor
	mean, invStd []float32 // batch statistics saved for the backward pass
	out          buffer
}

func (o *bnOp) Arity() int                                            { return 3 }
func (o *bnOp) Type() hm.Type                                         { return fnType(tt4, tt1, tt1, tt4) }
func (o *bnOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *bnOp) outBuf() *buffer                                       { return &o.out }
func (o *bnOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 3, in); err != nil {
		return nil, err
	}
	x, g, b := f32s(in[0]), f32s(in[1]), f32s(in[2])
	if !o.train {
		kern.BatchNormEval(o.n, o.c, o.hw, x, g, b, o.runMean.Value, o.runVar.Value, o.out.data, bnEps)
		if o.relu {
			kern.ReLU(o.out.data, o.out.data)
		}
		return o.out.dense, nil
	}
	var rm, rv []float32
	if *o.update {
		rm, rv = o.runMean.Value, o.runVar.Value
	}
	if o.relu {
		kern.BatchNormReLUTrain(o.n, o.c, o.hw, x, g, b, o.out.data, o.mean, o.invStd, rm, rv, bnMomentum, bnEps)
	} else {
		kern.BatchNormTrain(o.n, o.c, o.hw, x, g, b, o.out.data, o.mean, o.invStd, rm, rv, bnMomentum, bnEps)
	}
	return o.out.dense, nil
}
func (o *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (o *bnOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if !o.train {
		return nil, fmt.Errorf("pose: %s: no gradient in eval mode", o.name)
	}
	bw := &bnBwdOp{opBase: newBase(o.name + ".bwd"), fwd: o, out: unbound(o.out.shape...)}
	var dx *gorgonia.Node
	var err error
	if o.relu {
		dx, err = gorgonia.ApplyOp(bw, in[0], out, grad, in[1])
	} else {
		dx, err = gorgonia.ApplyOp(bw, in[0], grad, in[1])
	}
	if err != nil {
		return nil, err
	}
	dg, err := gorgonia.ApplyOp(&sideOp{opBase: newBase(o.name + ".dgamma"), out: newBuffer(o.gamma.Grad, o.gamma.Shape...)}, dx)
	if err != nil {
		return nil, err
	}
	db, err := gorgonia.ApplyOp(&sideOp{opBase: newBase(o.name + ".dbeta"), out: newBuffer(o.beta.Grad, o.beta.Shape...)}, dx)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dg, db}, nil
}

// bnBwdOp: inputs x, [y if fused with ReLU,] dy, gamma; output dx. It also writes dgamma and
// dbeta into the parameters' Grad slices, which two sideOps (that depend
// on this node) expose to the graph.
type bnBwdOp struct {
	opBase
	fwd *bnOp
	out buffer
}

func (o *bnBwdOp) Arity() int {
	if o.fwd.relu {
		return 4
	}
	return 3
}
func (o *bnBwdOp) Type() hm.Type {
	if o.fwd.relu {
		return fnType(tt4, tt4, tt4, tt1, tt4)
	}
	return fnType(tt4, tt4, tt1, tt4)
}
func (o *bnBwdOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *bnBwdOp) outBuf() *buffer                                       { return &o.out }
func (o *bnBwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, o.Arity(), in); err != nil {
		return nil, err
	}
	f := o.fwd
	if f.relu {
		kern.BatchNormReLUBackward(f.n, f.c, f.hw, f32s(in[0]), f32s(in[1]), f32s(in[2]), f32s(in[3]), f.mean, f.invStd,
			o.out.data, f.gamma.Grad, f.beta.Grad)
		return o.out.dense, nil
	}
	kern.BatchNormBackward(f.n, f.c, f.hw, f32s(in[0]), f32s(in[1]), f32s(in[2]), f.mean, f.invStd,
		o.out.data, f.gamma.Grad, f.beta.Grad)
	return o.out.dense, nil
}

// sideOp returns a buffer that the op producing its input filled as a
// side effect (input: that op's node, for ordering only).
type sideOp struct {
	opBase
	out buffer
}

func (o *sideOp) Arity() int                                            { return 1 }
func (o *sideOp) Type() hm.Type                                         { return fnType(tt4, tt1) }
func (o *sideOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *sideOp) outBuf() *buffer                                       { return &o.out }
func (o *sideOp) Do(in ...gorgonia.Value) (gorgonia.Value, error)       { return o.out.dense, nil }

// convBNEvalOp is an eval-mode convolution fused with the batch norm (and
// ReLU, if relu) that follows it: inputs x (N,InC,InH,InW), w
// (OutC,InC,KH,KW), gamma (OutC), beta (OutC); output (N,OutC,OutH,OutW).
// The running statistics are read from their Tensors. It has no gradient
// (eval graphs only).
type convBNEvalOp struct {
	opBase
	cv              kern.Conv
	n               int
	relu            bool
	gamma, beta     *Tensor
	runMean, runVar *Tensor
	ws              *kern.Workspace
	out             buffer
}

func (o *convBNEvalOp) Arity() int    { return 4 }
func (o *convBNEvalOp) Type() hm.Type { return fnType(tt4, tt4, tt1, tt1, tt4) }
func (o *convBNEvalOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.out.shape, nil
}
func (o *convBNEvalOp) outBuf() *buffer { return &o.out }
func (o *convBNEvalOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 4, in); err != nil {
		return nil, err
	}
	o.cv.ForwardBNEval(o.n, f32s(in[0]), f32s(in[1]), f32s(in[2]), f32s(in[3]), o.runMean.Value, o.runVar.Value,
		bnEps, o.relu, o.out.data, o.ws)
	return o.out.dense, nil
}

// ---------------------------------------------------------------- ReLU

// reluBwdOp: inputs y (the ReLU output), dy; output dx = dy where y > 0.
type reluBwdOp struct {
	opBase
	out buffer
}

func (o *reluBwdOp) Arity() int                                            { return 2 }
func (o *reluBwdOp) Type() hm.Type                                         { return fnType(tt4, tt4, tt4) }
func (o *reluBwdOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *reluBwdOp) outBuf() *buffer                                       { return &o.out }
func (o *reluBwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	kern.ReLUBackward(f32s(in[0]), f32s(in[1]), o.out.data)
	return o.out.dense, nil
}

// ---------------------------------------------------------------- add

// addOp: inputs a, b of the same shape; output a + b, or max(a+b, 0)
// when relu is set (the residual join). Its gradient is the incoming
// gradient (masked by the output when relu is set) for both inputs.
type addOp struct {
	opBase
	relu bool
	out  buffer
}

func (o *addOp) Arity() int                                            { return 2 }
func (o *addOp) Type() hm.Type                                         { return fnType(tt4, tt4, tt4) }
func (o *addOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *addOp) outBuf() *buffer                                       { return &o.out }
func (o *addOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	kern.Add(f32s(in[0]), f32s(in[1]), o.out.data)
	if o.relu {
		kern.ReLU(o.out.data, o.out.data)
	}
	return o.out.dense, nil
}
func (o *addOp) DiffWRT(int) []bool { return []bool{true, true} }
func (o *addOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.relu {
		bw := &reluBwdOp{opBase: newBase(o.name + ".bwd"), out: unbound(o.out.shape...)}
		d, err := gorgonia.ApplyOp(bw, out, grad)
		return gorgonia.Nodes{d, d}, err
	}
	return gorgonia.Nodes{grad, grad}, nil
}

// gradSumOp: inputs a, b of the same shape (two gradient contributions
// to one node); output a + b.
type gradSumOp struct {
	opBase
	out buffer
}

func (o *gradSumOp) Arity() int                                            { return 2 }
func (o *gradSumOp) Type() hm.Type                                         { return fnType(tt4, tt4, tt4) }
func (o *gradSumOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *gradSumOp) outBuf() *buffer                                       { return &o.out }
func (o *gradSumOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	kern.Add(f32s(in[0]), f32s(in[1]), o.out.data)
	return o.out.dense, nil
}

// ---------------------------------------------------------------- upsample

// upOp is nearest-neighbour upsampling by 2: input (N,C,H,W); output
// (N,C,2H,2W).
type upOp struct {
	opBase
	n, c, h, w int
	out        buffer
}

func (o *upOp) Arity() int                                            { return 1 }
func (o *upOp) Type() hm.Type                                         { return fnType(tt4, tt4) }
func (o *upOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *upOp) outBuf() *buffer                                       { return &o.out }
func (o *upOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 1, in); err != nil {
		return nil, err
	}
	kern.Upsample2x(o.n, o.c, o.h, o.w, f32s(in[0]), o.out.data)
	return o.out.dense, nil
}
func (o *upOp) DiffWRT(int) []bool { return []bool{true} }
func (o *upOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	bw := &upBwdOp{opBase: newBase(o.name + ".bwd"), fwd: o, out: unbound(o.n, o.c, o.h, o.w)}
	dx, err := gorgonia.ApplyOp(bw, grad)
	return gorgonia.Nodes{dx}, err
}

// upBwdOp: input dy (N,C,2H,2W); output dx (N,C,H,W), the sum over each
// 2x2 block.
type upBwdOp struct {
	opBase
	fwd *upOp
	out buffer
}

func (o *upBwdOp) Arity() int                                            { return 1 }
func (o *upBwdOp) Type() hm.Type                                         { return fnType(tt4, tt4) }
func (o *upBwdOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *upBwdOp) outBuf() *buffer                                       { return &o.out }
func (o *upBwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 1, in); err != nil {
		return nil, err
	}
	f := o.fwd
	kern.Upsample2xBackward(f.n, f.c, f.h, f.w, f32s(in[0]), o.out.data)
	return o.out.dense, nil
}

// ---------------------------------------------------------------- max pool

// poolOp is 3x3 max pooling with stride 2 and padding 1 (the torchvision
// ResNet stem): input (N,C,H,W); output (N,C,OH,OW). It records the
// arg-max of every window for the backward pass.
type poolOp struct {
	opBase
	p   maxPool
	arg []int32
	out buffer
}

func (o *poolOp) Arity() int                                            { return 1 }
func (o *poolOp) Type() hm.Type                                         { return fnType(tt4, tt4) }
func (o *poolOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *poolOp) outBuf() *buffer                                       { return &o.out }
func (o *poolOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 1, in); err != nil {
		return nil, err
	}
	o.p.forward(f32s(in[0]), o.out.data, o.arg)
	return o.out.dense, nil
}
func (o *poolOp) DiffWRT(int) []bool { return []bool{true} }
func (o *poolOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	bw := &poolBwdOp{opBase: newBase(o.name + ".bwd"), fwd: o, out: unbound(o.p.n, o.p.c, o.p.h, o.p.w)}
	dx, err := gorgonia.ApplyOp(bw, out, grad)
	return gorgonia.Nodes{dx}, err
}

// poolBwdOp: inputs y (ordering only), dy; output dx.
type poolBwdOp struct {
	opBase
	fwd *poolOp
	out buffer
}

func (o *poolBwdOp) Arity() int                                            { return 2 }
func (o *poolBwdOp) Type() hm.Type                                         { return fnType(tt4, tt4, tt4) }
func (o *poolBwdOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.out.shape, nil }
func (o *poolBwdOp) outBuf() *buffer                                       { return &o.out }
func (o *poolBwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	o.fwd.p.backward(f32s(in[1]), o.fwd.arg, o.out.data)
	return o.out.dense, nil
}

// ---------------------------------------------------------------- loss

// lossOp is the per-joint weighted MSE: inputs p, t (N,K,H,W) and weights
// (N,K); output the scalar mean over N*K*H*W of (w[n,k]*(p-t))^2. It also
// computes dloss/dp, which lossBwdOp exposes.
type lossOp struct {
	opBase
	n, k, hw int
	dp       buffer
	val      gorgonia.F32
}

func (o *lossOp) Arity() int    { return 3 }
func (o *lossOp) Type() hm.Type { return fnType(tt4, tt4, tt2, tensor.Float32) }
func (o *lossOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (o *lossOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 3, in); err != nil {
		return nil, err
	}
	l := kern.WeightedMSE(o.n, o.k, o.hw, f32s(in[0]), f32s(in[1]), f32s(in[2]), o.dp.data)
	o.val = gorgonia.F32(l)
	return &o.val, nil
}
func (o *lossOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (o *lossOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	bw := &lossBwdOp{opBase: newBase(o.name + ".bwd"), fwd: o}
	dp, err := gorgonia.ApplyOp(bw, out, grad)
	return gorgonia.Nodes{dp, nil, nil}, err
}

// lossBwdOp: inputs loss (ordering only), g (scalar upstream gradient);
// output g * dloss/dp.
type lossBwdOp struct {
	opBase
	fwd *lossOp
}

func (o *lossBwdOp) Arity() int    { return 2 }
func (o *lossBwdOp) Type() hm.Type { return fnType(tensor.Float32, tensor.Float32, tt4) }
func (o *lossBwdOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.fwd.dp.shape, nil
}
func (o *lossBwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkInputs(&o.opBase, 2, in); err != nil {
		return nil, err
	}
	if g := scalar(in[1]); g != 1 {
		for i := range o.fwd.dp.data {
			o.fwd.dp.data[i] *= g
		}
	}
	return o.fwd.dp.dense, nil
}

// Compile-time checks.
var (
	_ gorgonia.SDOp = (*convOp)(nil)
	_ gorgonia.SDOp = (*bnOp)(nil)
	_ gorgonia.SDOp = (*addOp)(nil)
	_ gorgonia.SDOp = (*upOp)(nil)
	_ gorgonia.SDOp = (*poolOp)(nil)
	_ gorgonia.SDOp = (*lossOp)(nil)
	_ gorgonia.Op   = (*convBNEvalOp)(nil)
	_ gorgonia.Op   = (*convBwdDataOp)(nil)
	_ gorgonia.Op   = (*convBwdFilterOp)(nil)
	_ gorgonia.Op   = (*biasGradOp)(nil)
	_ gorgonia.Op   = (*bnBwdOp)(nil)
	_ gorgonia.Op   = (*sideOp)(nil)
	_ gorgonia.Op   = (*reluBwdOp)(nil)
	_ gorgonia.Op   = (*gradSumOp)(nil)
	_ gorgonia.Op   = (*upBwdOp)(nil)
	_ gorgonia.Op   = (*poolBwdOp)(nil)
	_ gorgonia.Op   = (*lossBwdOp)(nil)
)
