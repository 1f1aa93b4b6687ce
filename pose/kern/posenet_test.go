package kern

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A posenet-s training step (../shared/specs/posenet-s.md) written with
// the kernels alone, to measure what they allow before any graph
// overhead: forward, loss and backward at batch 32, 128x96 input, 17
// joints.

type tensor struct {
	c, h, w int
	v, g    []float32 // values and gradient, n*c*h*w
}

func newTensor(n, c, h, w int) *tensor {
	return &tensor{c: c, h: h, w: w, v: make([]float32, n*c*h*w), g: make([]float32, n*c*h*w)}
}

// convBN is conv (no bias) + batch norm, followed by ReLU (relu) or by a
// residual add and ReLU (res != nil).
type convBN struct {
	conv                 Conv
	w, dw                []float32
	gamma, beta, dg, db  []float32
	mean, invStd, rm, rv []float32
	pre                  *tensor // conv output
	out                  *tensor
	in, res              *tensor
	relu                 bool
	tmp                  []float32
}

func newConvBN(r *rand.Rand, n int, in *tensor, outC, stride int, res *tensor) *convBN {
	c := Conv{InC: in.c, OutC: outC, KH: 3, KW: 3, Stride: stride, Pad: 1, InH: in.h, InW: in.w}
	l := &convBN{conv: c, in: in, res: res, relu: true}
	l.w = randSlice(r, outC*in.c*9, -0.05, 0.05)
	l.dw = make([]float32, len(l.w))
	l.gamma, l.beta = randSlice(r, outC, 0.9, 1.1), make([]float32, outC)
	l.dg, l.db = make([]float32, outC), make([]float32, outC)
	l.mean, l.invStd, l.rm, l.rv = make([]float32, outC), make([]float32, outC), make([]float32, outC), make([]float32, outC)
	l.pre = newTensor(n, outC, c.OutH(), c.OutW())
	l.out = newTensor(n, outC, c.OutH(), c.OutW())
	return l
}

func (l *convBN) forward(n int, ws *Workspace) {
	l.conv.Forward(n, l.in.v, l.w, nil, l.pre.v, ws)
	hw := l.out.h * l.out.w
	if l.res != nil {
		BatchNormAddReLUTrain(n, l.out.c, hw, l.pre.v, l.res.v, l.gamma, l.beta, l.out.v, l.mean, l.invStd, l.rm, l.rv, 0.1, 1e-5)
		return
	}
	BatchNormReLUTrain(n, l.out.c, hw, l.pre.v, l.gamma, l.beta, l.out.v, l.mean, l.invStd, l.rm, l.rv, 0.1, 1e-5)
}

// backward consumes l.out.g and accumulates into l.in.g (and l.res.g):
// accumulate says whether in.g already holds a gradient to add to;
// needDx is false for the stem when the input gradient is not wanted.
func (l *convBN) backward(n int, ws *Workspace, accumulate, needDx bool) {
	hw := l.out.h * l.out.w
	if l.res != nil {
		// The residual input gets the ReLU-masked gradient directly.
		ReLUBackward(l.out.v, l.out.g, l.res.g)
	}
	BatchNormReLUBackward(n, l.out.c, hw, l.pre.v, l.out.v, l.out.g, l.gamma, l.mean, l.invStd, l.pre.g, l.dg, l.db)
	l.conv.BackwardFilter(n, l.in.v, l.pre.g, l.dw, nil, ws)
	if !needDx {
		return
	}
	if !accumulate {
		l.conv.BackwardData(n, l.pre.g, l.w, l.in.g, ws)
		return
	}
	if len(l.tmp) != len(l.in.g) {
		l.tmp = make([]float32, len(l.in.g))
	}
	l.conv.BackwardData(n, l.pre.g, l.w, l.tmp, ws)
	Add(l.in.g, l.tmp, l.in.g)
}

type poseNet struct {
	n            int
	x            *tensor
	layers       []*convBN
	up1, up2     *tensor
	head1, head2 *convBN
	final        Conv
	fw, fb       []float32
	dfw, dfb     []float32
	hm           *tensor
	target, wt   []float32
	ws           Workspace
	inputGrad    bool // compute the gradient for the input images too
}

func newPoseNet(n int) *poseNet {
	r := rand.New(rand.NewPCG(31, 32))
	p := &poseNet{n: n}
	p.x = newTensor(n, 3, 128, 96)
	p.x.v = randSlice(r, len(p.x.v), -1, 1)
	cur := p.x
	for _, c := range []int{32, 64, 128, 256} {
		down := newConvBN(r, n, cur, c, 2, nil)
		p.layers = append(p.layers, down)
		cur = down.out
		if c == 32 {
			continue // the stem has no block
		}
		a := newConvBN(r, n, cur, c, 1, nil)
		b := newConvBN(r, n, a.out, c, 1, cur)
		p.layers = append(p.layers, a, b)
		cur = b.out
	}
	p.up1 = newTensor(n, 256, 16, 12)
	p.head1 = newConvBN(r, n, p.up1, 128, 1, nil)
	p.up2 = newTensor(n, 128, 32, 24)
	p.head2 = newConvBN(r, n, p.up2, 64, 1, nil)
	p.final = Conv{InC: 64, OutC: 17, KH: 1, KW: 1, Stride: 1, InH: 32, InW: 24}
	p.fw, p.fb = randSlice(r, 17*64, -0.1, 0.1), make([]float32, 17)
	p.dfw, p.dfb = make([]float32, len(p.fw)), make([]float32, 17)
	p.hm = newTensor(n, 17, 32, 24)
	p.target = randSlice(r, len(p.hm.v), 0, 1)
	p.wt = randSlice(r, n*17, 0, 1)
	return p
}

func (p *poseNet) forward() float64 {
	n := p.n
	for _, l := range p.layers {
		l.forward(n, &p.ws)
	}
	last := p.layers[len(p.layers)-1].out
	Upsample2x(n, 256, 8, 6, last.v, p.up1.v)
	p.head1.forward(n, &p.ws)
	Upsample2x(n, 128, 16, 12, p.head1.out.v, p.up2.v)
	p.head2.forward(n, &p.ws)
	p.final.Forward(n, p.head2.out.v, p.fw, p.fb, p.hm.v, &p.ws)
	return WeightedMSE(n, 17, 32*24, p.hm.v, p.target, p.wt, p.hm.g)
}

func (p *poseNet) backward() {
	n := p.n
	p.final.BackwardFilter(n, p.head2.out.v, p.hm.g, p.dfw, p.dfb, &p.ws)
	p.final.BackwardData(n, p.hm.g, p.fw, p.head2.out.g, &p.ws)
	p.head2.backward(n, &p.ws, false, true)
	Upsample2xBackward(n, 128, 16, 12, p.up2.g, p.head1.out.g)
	p.head1.backward(n, &p.ws, false, true)
	last := p.layers[len(p.layers)-1].out
	Upsample2xBackward(n, 256, 8, 6, p.up1.g, last.g)
	for i := len(p.layers) - 1; i >= 0; i-- {
		l := p.layers[i]
		// A block's first conv feeds from the tensor that the block's
		// second layer also uses as residual: its gradient accumulates.
		accumulate := i+1 < len(p.layers) && p.layers[i+1].res == l.in
		l.backward(n, &p.ws, accumulate, i > 0 || p.inputGrad)
	}
}

// TestPoseNetStep checks the hand-wired backward pass of the network
// with directional derivatives: for a random direction v,
// (L(θ+hv) - L(θ-hv)) / 2h must match <∇L, v>. Only parameters near the
// output are checked: deeper ones sit behind thousands of ReLU kinks and
// train-mode batch statistics, where float32 central differences do not
// converge (the kernels themselves are checked layer by layer above).
func TestPoseNetStep(t *testing.T) {
	p := newPoseNet(2)
	p.inputGrad = true
	l0 := p.forward()
	p.backward()
	if l1 := p.forward(); l0 != l1 || !(l0 > 0) {
		t.Fatalf("forward not deterministic or zero loss: %g then %g", l0, l1)
	}
	r := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct {
		name      string
		val, grad []float32
		h, tol    float64
	}{
		{"final weights", p.fw, p.dfw, 3e-3, 1e-3},
		{"final bias", p.fb, p.dfb, 3e-3, 1e-3},
		{"head2 gamma", p.head2.gamma, p.head2.dg, 3e-3, 2e-2},
		{"head2 beta", p.head2.beta, p.head2.db, 3e-3, 2e-2},
		{"head1 gamma", p.head1.gamma, p.head1.dg, 1e-4, 2e-2},
	} {
		v := randSlice(r, len(tc.val), -1, 1)
		var want float64
		for i := range v {
			want += float64(v[i]) * float64(tc.grad[i])
		}
		orig := append([]float32(nil), tc.val...)
		for i := range tc.val {
			tc.val[i] = orig[i] + float32(tc.h)*v[i]
		}
		lp := p.forward()
		for i := range tc.val {
			tc.val[i] = orig[i] - float32(tc.h)*v[i]
		}
		lm := p.forward()
		copy(tc.val, orig)
		got := (lp - lm) / (2 * tc.h)
		if d := math.Abs(got-want) / max(math.Abs(want), 1e-12); !(d < tc.tol) {
			t.Errorf("%s: directional derivative %g, backward gives %g (relative difference %.2g)", tc.name, got, want, d)
		}
	}
	var nz int
	for _, v := range p.x.g {
		if v != 0 {
			nz++
		}
	}
	if nz < len(p.x.g)/2 {
		t.Errorf("input gradient mostly zero: %d of %d non-zero", nz, len(p.x.g))
	}
}

// BenchmarkPoseNetS reports images per second of the kernels alone for a
// posenet-s forward pass (plus loss) and a full step (forward + backward,
// without the input-image gradient).
func BenchmarkPoseNetS(b *testing.B) {
	const n = 32
	p := newPoseNet(n)
	p.forward()
	p.backward()
	b.Run("Forward/B32", func(b *testing.B) {
		m := startMeter(b)
		for b.Loop() {
			p.forward()
		}
		m.reportImages(b, n)
	})
	b.Run("Step/B32", func(b *testing.B) {
		m := startMeter(b)
		for b.Loop() {
			p.forward()
			p.backward()
		}
		m.reportImages(b, n)
	})
}
