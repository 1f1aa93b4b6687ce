package infer

import (
	"fmt"

	"github.com/bsampose/bsampose/pose/kern"
)

// Kernel is the matrix-multiply backend of the convolutions.
//
// Gemm sets, for i < m and j < n,
//
//	c[i*ldc+j] = f(bias[i] + Σ_p A[i,p] * b[p*ldb+j])
//
// with f = max(·, 0) if relu and the identity otherwise, where A is the
// row-major m×k weight matrix that Pack turned into a (layout the kernel
// chooses). b: k rows of n values with row stride ldb; c: m rows with row
// stride ldc; bias: m values or nil for zero, with capacity of at least
// m rounded up to a multiple of 4 (kernels may read the padding).
type Kernel interface {
	Name() string
	Pack(w []float32, m, k int) []float32
	Gemm(m, n, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool)
}

// Unroller is implemented by kernels that also provide the im2col
// unrolling (the browser's, whose Go im2col is slow); others use Im2col.
type Unroller interface {
	Im2col(cv kern.Conv, x, col []float32)
}

// DefaultKernel returns the kernel new models start with: GoKernel (the
// browser glue then switches to the SIMD PanelKernel with SetKernel).
func DefaultKernel() Kernel { return GoKernel{} }

// GoKernel runs on kern.Sgemm: AVX2/FMA assembly on amd64, portable Go
// elsewhere (including js/wasm). Its packed layout is the row-major matrix
// itself.
type GoKernel struct{}

// Name returns "go".
func (GoKernel) Name() string { return "go" }

// Pack returns w unchanged.
func (GoKernel) Pack(w []float32, m, k int) []float32 { return w[:m*k] }

// Gemm implements Kernel with kern.Sgemm followed by the bias and ReLU.
func (GoKernel) Gemm(m, n, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	kern.Sgemm(false, false, m, n, k, 1, a, k, b, ldb, 0, c, ldc)
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		var bv float32
		if bias != nil {
			bv = bias[i]
		}
		if relu {
			for j, v := range row {
				v += bv
				if !(v > 0) {
					v = 0
				}
				row[j] = v
			}
		} else if bv != 0 {
			for j := range row {
				row[j] += bv
			}
		}
	}
}

// Panel geometry of PanelKernel: A is packed in panels of PanelRows rows
// stored k-major, and the full part of a GEMM covers multiples of
// PanelCols columns.
const (
	PanelRows = 4
	PanelCols = 8
)

// PackPanels packs the row-major m×k matrix w into ceil(m/4) panels of 4
// rows, each stored k-major: element (i, p) goes to
// (i/4)*4*k + p*4 + i%4. Rows past m are zero.
//
// It panics if len(w) < m*k.
func PackPanels(w []float32, m, k int) []float32 {
	if len(w) < m*k {
		panic(fmt.Sprintf("infer: PackPanels: len(w)=%d < %d*%d", len(w), m, k))
	}
	mp := (m + PanelRows - 1) / PanelRows * PanelRows
	out := make([]float32, mp*k)
	for i0 := 0; i0 < m; i0 += PanelRows {
		pan := out[i0*k : (i0+PanelRows)*k]
		if m-i0 >= 4 && PanelRows == 4 {
			// four rows per pass: a quarter of the loop overhead, which
			// matters in the browser where this runs unoptimised once
			w0, w1, w2, w3 := w[i0*k:(i0+1)*k], w[(i0+1)*k:(i0+2)*k], w[(i0+2)*k:(i0+3)*k], w[(i0+3)*k:(i0+4)*k]
			for p := range w0 {
				d := pan[4*p : 4*p+4 : 4*p+4]
				d[0], d[1], d[2], d[3] = w0[p], w1[p], w2[p], w3[p]
			}
			continue
		}
		for r := range min(PanelRows, m-i0) {
			row := w[(i0+r)*k : (i0+r+1)*k]
			for p, v := range row {
				pan[p*PanelRows+r] = v
			}
		}
	}
	return out
}

// PanelKernel reads weights packed by PackPanels. Full, if not nil,
// computes the columns [0, n) for n a positive multiple of PanelCols (the
// SIMD128 WebAssembly module in the browser); PanelKernel computes the
// remaining columns, or all of them when Full is nil, in plain Go with
// the same summation order (p ascending, one float32 accumulator).
type PanelKernel struct {
	Label string // returned by Name; "panel" if empty
	Full  func(m, n, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool)
	// Unroll, if not nil, replaces Im2col (square kernels only).
	Unroll func(cv kern.Conv, x, col []float32)
}

// Im2col implements Unroller: Unroll if set and the kernel is square,
// else Im2col.
func (p PanelKernel) Im2col(cv kern.Conv, x, col []float32) {
	if p.Unroll != nil && cv.KH == cv.KW {
		p.Unroll(cv, x, col)
		return
	}
	Im2col(cv, x, col)
}

// Name returns the label.
func (p PanelKernel) Name() string {
	if p.Label == "" {
		return "panel"
	}
	return p.Label
}

// Pack is PackPanels.
func (PanelKernel) Pack(w []float32, m, k int) []float32 { return PackPanels(w, m, k) }

// Gemm implements Kernel.
func (p PanelKernel) Gemm(m, n, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	j0 := 0
	if p.Full != nil && n >= PanelCols {
		j0 = n / PanelCols * PanelCols
		p.Full(m, j0, k, a, b, ldb, c, ldc, bias, relu)
	}
	if j0 < n {
		PanelGemm(m, j0, n, k, a, b, ldb, c, ldc, bias, relu)
	}
}

// PanelGemm is the scalar reference of the SIMD kernel: it computes
// columns [j0, j1) of the Kernel.Gemm product with a packed by
// PackPanels.
func PanelGemm(m, j0, j1, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	for i := range m {
		ap := a[(i/PanelRows)*PanelRows*k+i%PanelRows:]
		var bv float32
		if bias != nil {
			bv = bias[i]
		}
		row := c[i*ldc:]
		for j := j0; j < j1; j++ {
			s := bv
			for q := range k {
				s += ap[q*PanelRows] * b[q*ldb+j]
			}
			if relu && !(s > 0) {
				s = 0
			}
			row[j] = s
		}
	}
}
