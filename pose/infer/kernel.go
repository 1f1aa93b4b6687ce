package infer

import "github.com/bsampose/bsampose/pose/kern"

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

// Tile geometry of PanelKernel: its Full function computes tiles of
// PanelRows rows by PanelCols columns, and covers multiples of PanelCols
// columns.
const (
	PanelRows = 4
	PanelCols = 8
)

// PanelKernel uses the row-major weights as they are (no packing: at
// start-up in the browser, a packed copy of the weights cost more time
// than the kernel saved). Full, if not nil, computes the columns [0, n)
// for n a positive multiple of PanelCols (the SIMD128 WebAssembly module
// in the browser); PanelKernel computes the remaining columns, or all of
// them when Full is nil, in plain Go with the same summation order (p
// ascending, one float32 accumulator).
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

// Pack returns w unchanged (row-major, m rows of k).
func (PanelKernel) Pack(w []float32, m, k int) []float32 { return w[:m*k] }

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
// columns [j0, j1) of the Kernel.Gemm product, a row-major (m rows of k).
func PanelGemm(m, j0, j1, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	for i := range m {
		ap := a[i*k : (i+1)*k]
		var bv float32
		if bias != nil {
			bv = bias[i]
		}
		row := c[i*ldc:]
		for j := j0; j < j1; j++ {
			s := bv
			for q := range k {
				s += ap[q] * b[q*ldb+j]
			}
			if relu && !(s > 0) {
				s = 0
			}
			row[j] = s
		}
	}
}
