package sharp

import (
	"fmt"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/kern"
)

// Batch is one fixed batch of the loss: x m*3*H*W (NCHW, normalised),
// target m*K*h*w heatmaps and weight m*K per-joint weights.
type Batch struct {
	X, Target, Weight []float32
}

// NetOracle is the eval-mode loss of a pose.Net (batch norm with its
// running statistics) averaged over fixed batches, as an Oracle over the
// concatenation of net.Params(). Calls write the requested point into the
// network's parameters; Restore puts back the values the oracle was made
// with.
type NetOracle struct {
	net     *pose.Net
	batches []Batch
	blocks  []Block
	dim     int
	orig    []float32
}

// NewNetOracle returns the oracle of net on batches (at least one; each
// batch's image count is len(Weight)/K).
func NewNetOracle(net *pose.Net, batches []Batch) (*NetOracle, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("sharp: no batches")
	}
	o := &NetOracle{net: net, batches: batches}
	for _, p := range net.Params() {
		o.blocks = append(o.blocks, Block{Name: p.Name, Offset: o.dim, Shape: p.Shape})
		o.dim += len(p.Value)
		o.orig = append(o.orig, p.Value...)
	}
	return o, nil
}

// Dim returns the number of trainable scalars.
func (o *NetOracle) Dim() int { return o.dim }

// Blocks returns the layout of the parameter vector.
func (o *NetOracle) Blocks() []Block { return o.blocks }

// Weights returns the parameters the oracle was made with, in float64.
func (o *NetOracle) Weights() []float64 {
	w := make([]float64, len(o.orig))
	for i, v := range o.orig {
		w[i] = float64(v)
	}
	return w
}

// Restore writes the original parameters back into the network.
func (o *NetOracle) Restore() {
	off := 0
	for _, p := range o.net.Params() {
		off += copy(p.Value, o.orig[off:])
	}
}

// LossGrad sets the network's parameters to w (rounded to float32) and
// returns the mean eval-mode loss over the batches and, if g is non-nil,
// its gradient.
func (o *NetOracle) LossGrad(w, g []float64) (float64, error) {
	checkDim(o, w)
	off := 0
	for _, p := range o.net.Params() {
		for i := range p.Value {
			p.Value[i] = float32(w[off+i])
		}
		off += len(p.Value)
	}
	if g != nil {
		clear(g)
	}
	k, h, wd := o.net.OutputShape()
	var loss float64
	for bi, b := range o.batches {
		if g == nil {
			m := len(b.Weight) / k
			out, err := o.net.Forward(b.X, m)
			if err != nil {
				return 0, fmt.Errorf("sharp: batch %d: %w", bi, err)
			}
			loss += kern.WeightedMSE(m, k, h*wd, out, b.Target, b.Weight, nil)
			continue
		}
		l, err := o.net.EvalLossGrad(b.X, b.Target, b.Weight)
		if err != nil {
			return 0, fmt.Errorf("sharp: batch %d: %w", bi, err)
		}
		loss += l
		off := 0
		for _, p := range o.net.Params() {
			for i, v := range p.Grad {
				g[off+i] += float64(v)
			}
			off += len(p.Grad)
		}
	}
	nb := float64(len(o.batches))
	if g != nil {
		scale(g, 1/nb)
	}
	return loss / nb, nil
}
