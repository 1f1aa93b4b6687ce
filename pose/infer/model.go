package infer

import (
	"errors"
	"fmt"
	"math"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/arch"
	"github.com/bsampose/bsampose/pose/kern"
)

// Preset names (package arch describes them).
const (
	PresetPoseNetS = arch.PoseNetS
	PresetResNet18 = arch.ResNet18
	PresetResNet50 = arch.ResNet50
)

// BNEps is the batch-norm epsilon folded into the convolutions (PyTorch's
// default, as the pose network's spec).
const BNEps = arch.BNEps

// Meta is everything besides the weights that inference needs: the
// architecture, the input geometry and normalisation, the keypoint schema
// and the heatmap codec. Its JSON form is the header of a model file.
type Meta struct {
	Preset    string       `json:"preset"`
	InputH    int          `json:"input_h"`
	InputW    int          `json:"input_w"`
	Joints    int          `json:"joints"`
	Names     []string     `json:"names"`
	Skeleton  [][2]int     `json:"skeleton"`   // 0-based joint pairs
	FlipPairs [][2]int     `json:"flip_pairs"` // 0-based (left, right)
	Sigmas    []float64    `json:"sigmas,omitempty"`
	Codec     heatmap.MSRA `json:"codec"`
	Mean      [3]float32   `json:"mean"` // RGB, on pixels scaled to 0..1
	Std       [3]float32   `json:"std"`
}

// Arch returns the network description of m (preset, input size, joints).
func (m Meta) Arch() (*arch.Net, error) {
	g, err := arch.New(m.Preset, m.InputH, m.InputW, m.Joints)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	return g, nil
}

func (m Meta) validate() error {
	if _, err := m.Arch(); err != nil {
		return err
	}
	if len(m.Names) != 0 && len(m.Names) != m.Joints {
		return fmt.Errorf("infer: %d joint names for %d joints", len(m.Names), m.Joints)
	}
	for _, p := range append(append([][2]int{}, m.Skeleton...), m.FlipPairs...) {
		if p[0] < 0 || p[0] >= m.Joints || p[1] < 0 || p[1] >= m.Joints {
			return fmt.Errorf("infer: joint pair %v outside [0, %d)", p, m.Joints)
		}
	}
	c := m.Codec
	if c.InputW != m.InputW || c.InputH != m.InputH || c.W != m.InputW/4 || c.H != m.InputH/4 {
		return fmt.Errorf("infer: codec %dx%d -> %dx%d does not match input %dx%d -> %dx%d (w x h)",
			c.InputW, c.InputH, c.W, c.H, m.InputW, m.InputH, m.InputW/4, m.InputH/4)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	for i := range 3 {
		if !(m.Std[i] > 0) || math.IsInf(float64(m.Std[i]), 0) || math.IsNaN(float64(m.Mean[i])) {
			return fmt.Errorf("infer: mean %v std %v: std must be positive and finite", m.Mean, m.Std)
		}
	}
	return nil
}

// ErrMissingTensor is wrapped by FromTensors when a tensor the preset
// needs is absent.
var ErrMissingTensor = errors.New("infer: missing tensor")

// opKind is the kind of one layer of the inference program.
type opKind uint8

const (
	opConv opKind = iota // convolution (+ folded BN, bias, residual, ReLU)
	opUp                 // nearest 2x upsample
	opPool               // 3x3 stride-2 max pool, padding 1
)

// act is an activation slot with its per-image shape.
type act struct{ id, c, h, w int }

func (a act) size() int { return a.c * a.h * a.w }

// layer is one step of the program: out = f(in [, res]).
type layer struct {
	kind    opKind
	in, out act
	res     int // residual slot added before the ReLU, -1 for none
	conv    *convLayer
}

// convLayer is a convolution with batch norm folded in: y = relu?(W*x + b [+ res]).
type convLayer struct {
	name   string // the convolution's tensor prefix, e.g. "layer1.1.conv2"
	cv     kern.Conv
	w      []float32 // OutC*InC*KH*KW, OIHW (BN folded)
	bias   []float32 // OutC, capacity rounded up to a multiple of 4
	packed []float32 // w in the kernel's layout
	relu   bool
}

// Model is a gorgonia-free inference network with batch norm folded into
// the convolutions. Forward allocates only on the first call for a given
// image count; later calls reuse the activation and im2col buffers.
//
// A Model is not safe for concurrent use; give each goroutine its own
// (Clone shares the read-only weights).
type Model struct {
	Meta    Meta
	layers  []layer
	slots   []act // slot shapes; slot 0 is the input
	kernel  Kernel
	plans   map[int]*plan
	maxCol  int // im2col floats one image needs at most
	scratch predScratch
}

// plan holds the buffers for one image count.
type plan struct {
	bufs [][]float32 // per slot, m * slot size (slot 0 aliases the input)
	col  []float32
}

// Kernel returns the GEMM backend the model runs on.
func (md *Model) Kernel() Kernel { return md.kernel }

// SetKernel switches the GEMM backend, repacking the weights for it.
func (md *Model) SetKernel(k Kernel) {
	md.kernel = k
	for i := range md.layers {
		if c := md.layers[i].conv; c != nil {
			kk := c.cv.InC * c.cv.KH * c.cv.KW
			c.packed = k.Pack(c.w, c.cv.OutC, kk)
		}
	}
}

// Clone returns a Model sharing the (read-only) weights with its own
// buffers and kernel setting, for use on another goroutine.
func (md *Model) Clone() *Model {
	c := *md
	c.plans = map[int]*plan{}
	c.scratch = predScratch{}
	c.layers = append([]layer(nil), md.layers...)
	for i := range c.layers {
		if cl := c.layers[i].conv; cl != nil {
			cp := *cl
			c.layers[i].conv = &cp
		}
	}
	return &c
}

// OutputShape returns the heatmap shape per image: K x InputH/4 x InputW/4.
func (md *Model) OutputShape() (k, h, w int) {
	return md.Meta.Joints, md.Meta.InputH / 4, md.Meta.InputW / 4
}

// NumParams returns the number of folded weights and biases.
func (md *Model) NumParams() int {
	n := 0
	for _, l := range md.layers {
		if l.conv != nil {
			n += len(l.conv.w) + len(l.conv.bias)
		}
	}
	return n
}

// maxPlans bounds the buffer sets kept for distinct image counts.
const maxPlans = 4

func (md *Model) plan(m int) *plan {
	if p, ok := md.plans[m]; ok {
		return p
	}
	for k := range md.plans {
		if len(md.plans) < maxPlans {
			break
		}
		delete(md.plans, k)
	}
	p := &plan{bufs: make([][]float32, len(md.slots)), col: make([]float32, md.maxCol)}
	for i, s := range md.slots[1:] {
		p.bufs[i+1] = make([]float32, m*s.size())
	}
	md.plans[m] = p
	return p
}

// Forward runs the network on m images, x: m*3*InputH*InputW (NCHW,
// normalised as Meta.Mean/Std), and returns m*K*h*w heatmaps (row-major
// n,k,y,x; h = InputH/4, w = InputW/4). The result is an internal buffer,
// valid until the next Forward with the same m. It implements
// pose.Forwarder.
func (md *Model) Forward(x []float32, m int) ([]float32, error) {
	if m <= 0 {
		return nil, fmt.Errorf("infer: forward: %d images", m)
	}
	if want := m * md.slots[0].size(); len(x) != want {
		return nil, fmt.Errorf("infer: forward: x has %d values, want %d (%d x 3x%dx%d)", len(x), want, m, md.Meta.InputH, md.Meta.InputW)
	}
	p := md.plan(m)
	p.bufs[0] = x
	for i := range md.layers {
		l := &md.layers[i]
		in, out := p.bufs[l.in.id], p.bufs[l.out.id]
		switch l.kind {
		case opConv:
			md.conv(l, m, in, out, p)
			if l.res >= 0 {
				addReLU(out, p.bufs[l.res], l.conv.relu)
			}
		case opUp:
			upsample2x(m*l.in.c, l.in.h, l.in.w, in, out)
		case opPool:
			maxPool(m*l.in.c, l.in.h, l.in.w, in, out)
		}
	}
	p.bufs[0] = nil
	return p.bufs[len(p.bufs)-1], nil
}

// conv runs one convolution layer on m images, one GEMM per image:
// y_i[OutC, OH*OW] = W[OutC, K] x col_i[K, OH*OW] (+ bias, ReLU).
func (md *Model) conv(l *layer, m int, x, y []float32, p *plan) {
	c := l.conv
	cv := c.cv
	inSz, outN, kk := l.in.size(), cv.OutH()*cv.OutW(), cv.InC*cv.KH*cv.KW
	relu := c.relu && l.res < 0
	for i := range m {
		xi := x[i*inSz : (i+1)*inSz]
		yi := y[i*cv.OutC*outN : (i+1)*cv.OutC*outN]
		b := xi
		if !direct(cv) {
			b = p.col[:kk*outN]
			if u, ok := md.kernel.(Unroller); ok {
				u.Im2col(cv, xi, b)
			} else {
				Im2col(cv, xi, b)
			}
		}
		md.kernel.Gemm(cv.OutC, outN, kk, c.packed, b, outN, yi, outN, c.bias, relu)
	}
}

func direct(cv kern.Conv) bool { return cv.KH == 1 && cv.KW == 1 && cv.Stride == 1 && cv.Pad == 0 }

// Im2col unrolls one image x (InC*InH*InW) into col (InC*KH*KW rows of OH*OW,
// row (c*KH+ky)*KW+kx, column oy*OW+ox), zero outside the image.
//
// It panics if x or col is too short.
func Im2col(cv kern.Conv, x, col []float32) {
	oh, ow := cv.OutH(), cv.OutW()
	n := oh * ow
	s, pad := cv.Stride, cv.Pad
	r := 0
	for c := range cv.InC {
		img := x[c*cv.InH*cv.InW : (c+1)*cv.InH*cv.InW]
		for ky := range cv.KH {
			for kx := range cv.KW {
				row := col[r*n : (r+1)*n]
				r++
				// valid output columns: 0 <= ox*s-pad+kx < InW
				lo := 0
				if d := pad - kx; d > 0 {
					lo = (d + s - 1) / s
				}
				hi := 0
				if d := cv.InW - 1 + pad - kx; d >= 0 {
					hi = min(ow, d/s+1)
				}
				lo = min(lo, hi)
				for oy := range oh {
					dst := row[oy*ow : (oy+1)*ow]
					iy := oy*s - pad + ky
					if iy < 0 || iy >= cv.InH {
						zero(dst)
						continue
					}
					src := img[iy*cv.InW : (iy+1)*cv.InW]
					zero(dst[:lo])
					zero(dst[hi:])
					d := dst[lo:hi]
					if s == 1 {
						// explicit loops: on wasm, copy and clear become
						// memory.copy/fill calls that cost more than
						// these short rows
						sr := src[lo-pad+kx:]
						sr = sr[:len(d)]
						for q, v := range sr {
							d[q] = v
						}
						continue
					}
					j := lo*s - pad + kx
					for q := range d {
						d[q] = src[j]
						j += s
					}
				}
			}
		}
	}
}

// zero sets d to 0 without the memclr call the compiler would make of
// clear (a slow memory.fill call on wasm for short rows).
func zero(d []float32) {
	for i := 0; i < len(d); i++ {
		d[len(d)-1-i] = 0
	}
}

// addReLU sets y = y + r, then max(y, 0) if relu.
func addReLU(y, r []float32, relu bool) {
	r = r[:len(y)]
	if !relu {
		for i, v := range r {
			y[i] += v
		}
		return
	}
	for i, v := range r {
		s := y[i] + v
		if !(s > 0) {
			s = 0
		}
		y[i] = s
	}
}

// upsample2x is nearest 2x upsampling of planes h x w planes.
func upsample2x(planes, h, w int, x, y []float32) {
	for p := range planes {
		xp := x[p*h*w : (p+1)*h*w]
		yp := y[4*p*h*w : 4*(p+1)*h*w]
		for r := range h {
			src := xp[r*w : (r+1)*w]
			d0 := yp[2*r*2*w : (2*r+1)*2*w]
			d0 = d0[:2*len(src)]
			for q, v := range src {
				d0[2*q] = v
				d0[2*q+1] = v
			}
			copy(yp[(2*r+1)*2*w:(2*r+2)*2*w], d0)
		}
	}
}

// maxPool is 3x3 max pooling, stride 2, padding 1 (padding never wins),
// over planes of h x w.
func maxPool(planes, h, w int, x, y []float32) {
	oh, ow := (h-1)/2+1, (w-1)/2+1
	for p := range planes {
		xp := x[p*h*w : (p+1)*h*w]
		yp := y[p*oh*ow : (p+1)*oh*ow]
		for oy := range oh {
			for ox := range ow {
				best := float32(math.Inf(-1))
				first := true
				for iy := max(0, 2*oy-1); iy <= min(h-1, 2*oy+1); iy++ {
					for ix := max(0, 2*ox-1); ix <= min(w-1, 2*ox+1); ix++ {
						if v := xp[iy*w+ix]; v > best || first {
							best, first = v, false
						}
					}
				}
				yp[oy*ow+ox] = best
			}
		}
	}
}

// ---------------------------------------------------------------- building

// FromTensors builds the inference network meta describes from a pose
// checkpoint's tensors (PyTorch state_dict names, see package pose): each
// convolution's weight with its batch norm folded in (eps BNEps). Tensors
// the preset does not use are ignored. tensors[name] has len == product of
// shapes[name], row-major.
func FromTensors(meta Meta, tensors map[string][]float32, shapes map[string][]int) (*Model, error) {
	return build(meta, tensorSet{vals: tensors, shapes: shapes}, false)
}

// tensorSet looks tensors up by name and checks their shapes.
type tensorSet struct {
	vals   map[string][]float32
	shapes map[string][]int
	gen    func(name string, shape []int) []float32 // tests: make missing tensors
}

func (t tensorSet) get(name string, shape ...int) ([]float32, error) {
	v, ok := t.vals[name]
	if !ok && t.gen != nil {
		v = t.gen(name, shape)
		t.vals[name], t.shapes[name] = v, shape
		ok = true
	}
	if !ok {
		return nil, fmt.Errorf("%w %q (shape %v)", ErrMissingTensor, name, shape)
	}
	got := t.shapes[name]
	same := len(got) == len(shape)
	for i := 0; same && i < len(got); i++ {
		same = got[i] == shape[i]
	}
	if !same {
		return nil, fmt.Errorf("infer: tensor %q has shape %v, want %v", name, got, shape)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(v) != n {
		return nil, fmt.Errorf("infer: tensor %q has %d values for shape %v", name, len(v), shape)
	}
	return v, nil
}

type builder struct {
	md     *Model
	t      tensorSet
	folded bool // tensors are already folded (conv.weight, conv.bias)
	err    error
}

func build(meta Meta, t tensorSet, folded bool) (*Model, error) {
	if err := meta.validate(); err != nil {
		return nil, err
	}
	desc, err := meta.Arch()
	if err != nil {
		return nil, err
	}
	md := &Model{Meta: meta, plans: map[int]*plan{}}
	b := &builder{md: md, t: t, folded: folded}
	out := b.fromArch(desc)
	if b.err != nil {
		return nil, b.err
	}
	k, h, w := md.OutputShape()
	if out.c != k || out.h != h || out.w != w || out.id != len(md.slots)-1 {
		return nil, fmt.Errorf("infer: %s output %dx%dx%d, want %dx%dx%d", meta.Preset, out.c, out.h, out.w, k, h, w)
	}
	md.SetKernel(DefaultKernel())
	return md, nil
}

// chain is a convolution with what is folded or fused into it: the
// batch norm after it, then the residual Add (the other input added) and
// the ReLU; -1 for an absent part.
type chain struct{ conv, bn, add, relu int }

// fromArch appends the program of the description: each chain as one
// layer, Upsample and MaxPool as layers of their own. A chain is placed
// where it ends (its last node), so the residual's other branch is
// computed by then. It returns the output slot.
func (b *builder) fromArch(desc *arch.Net) act {
	nodes := desc.Nodes
	chains := map[int]chain{} // by the chain's last node
	member := make([]bool, len(nodes))
	for i, n := range nodes {
		if n.Op != arch.Conv {
			continue
		}
		c, end := chain{conv: i, bn: -1, add: -1, relu: -1}, i
		if u := desc.Only(end, arch.BatchNorm); u >= 0 {
			c.bn, end = u, u
		}
		if u := desc.Only(end, arch.Add); u >= 0 && !member[u] {
			c.add, end = u, u
		}
		if u := desc.Only(end, arch.ReLU); u >= 0 {
			c.relu, end = u, u
		}
		for _, m := range []int{c.conv, c.bn, c.add, c.relu} {
			if m >= 0 {
				member[m] = true
			}
		}
		chains[end] = c
	}
	acts := make([]act, len(nodes))
	acts[0] = b.slot(3, desc.InputH, desc.InputW)
	for i := 1; i < len(nodes) && b.err == nil; i++ {
		n := nodes[i]
		if c, ok := chains[i]; ok {
			cn := nodes[c.conv]
			bn, res := "", act{}
			if c.bn >= 0 {
				bn = nodes[c.bn].Name
			}
			if c.add >= 0 {
				in := nodes[c.add].In
				prev := c.conv
				if c.bn >= 0 {
					prev = c.bn
				}
				other := in[0]
				if other == prev {
					other = in[1]
				}
				res = acts[other]
			}
			acts[i] = b.conv(cn.Name, bn, cn.Bias, acts[cn.In[0]], cn.C, cn.K, cn.Stride, cn.Pad, res, c.relu >= 0)
			continue
		}
		if member[i] {
			continue
		}
		switch n.Op {
		case arch.Upsample:
			acts[i] = b.up(acts[n.In[0]])
		case arch.MaxPool:
			acts[i] = b.pool(acts[n.In[0]])
		default:
			b.err = fmt.Errorf("infer: node %d (%s %s): not part of a convolution's chain", i, n.Op, n.Name)
		}
	}
	return acts[len(acts)-1]
}

func (b *builder) slot(c, h, w int) act {
	a := act{id: len(b.md.slots), c: c, h: h, w: w}
	b.md.slots = append(b.md.slots, a)
	return a
}

// conv adds convolution conv (with its own bias if bias) followed by
// batch norm bn ("" for none), an optional residual res (c > 0) and an
// optional ReLU. With folded tensors (a model file), conv.weight and
// conv.bias are read as they are.
func (b *builder) conv(conv, bn string, bias bool, x act, outC, k, stride, pad int, res act, relu bool) act {
	cv := kern.Conv{InC: x.c, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad, InH: x.h, InW: x.w}
	out := act{c: outC, h: cv.OutH(), w: cv.OutW()}
	if b.err != nil {
		return out
	}
	if out.h <= 0 || out.w <= 0 {
		b.err = fmt.Errorf("infer: %s: input %dx%d too small", conv, x.h, x.w)
		return out
	}
	w, err := b.t.get(conv+".weight", outC, x.c, k, k)
	if err != nil {
		b.err = err
		return out
	}
	var bv []float32
	if b.folded || bias {
		if bv, err = b.t.get(conv+".bias", outC); err != nil {
			b.err = err
			return out
		}
	}
	fw, fb := w, bv
	switch {
	case !b.folded && bn != "":
		var p [4][]float32
		for i, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
			if p[i], err = b.t.get(bn+s, outC); err != nil {
				b.err = err
				return out
			}
		}
		fw, fb = arch.Fold(w, bv, p[0], p[1], p[2], p[3])
	case !b.folded:
		fw = append([]float32(nil), w...) // do not alias the caller's tensors
	}
	biasBuf := make([]float32, outC, (outC+3)&^3)
	copy(biasBuf, fb)
	out = b.slot(outC, cv.OutH(), cv.OutW())
	resID := -1
	if res.c > 0 {
		resID = res.id
	}
	kk := x.c * k * k
	b.md.layers = append(b.md.layers, layer{kind: opConv, in: x, out: out, res: resID,
		conv: &convLayer{name: conv, cv: cv, w: fw, bias: biasBuf, relu: relu}})
	if !direct(cv) {
		b.md.maxCol = max(b.md.maxCol, kk*out.h*out.w)
	}
	return out
}

func (b *builder) up(x act) act {
	if b.err != nil {
		return act{c: x.c, h: 2 * x.h, w: 2 * x.w}
	}
	out := b.slot(x.c, 2*x.h, 2*x.w)
	b.md.layers = append(b.md.layers, layer{kind: opUp, in: x, out: out, res: -1})
	return out
}

func (b *builder) pool(x act) act {
	if b.err != nil {
		return act{c: x.c, h: (x.h-1)/2 + 1, w: (x.w-1)/2 + 1}
	}
	out := b.slot(x.c, (x.h-1)/2+1, (x.w-1)/2+1)
	b.md.layers = append(b.md.layers, layer{kind: opPool, in: x, out: out, res: -1})
	return out
}
