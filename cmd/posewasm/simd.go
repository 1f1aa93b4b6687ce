//go:build js && wasm

package main

import (
	"unsafe"

	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/kern"
)

// The SIMD128 GEMM module (pose/infer/simd), instantiated by
// web/static/posewasm.js on Go's own memory. The loader satisfies these
// imports with JS trampolines into that instance.
//
//go:wasmimport bsampose_simd sgemm
func simdSgemm(m, n, k int32, a, b unsafe.Pointer, ldb int32, c unsafe.Pointer, ldc int32, bias unsafe.Pointer, relu int32, scratch unsafe.Pointer)

//go:wasmimport bsampose_simd im2col
func simdIm2col(x, col unsafe.Pointer, inC, inH, inW, k, s, pad, oh, ow int32)

// simdAvailable reports what the loader instantiated: 0 nothing, 1 the
// SIMD128 module, 2 its relaxed-SIMD (FMA) variant.
//
//go:wasmimport bsampose_simd available
func simdAvailable() int32

var (
	biasPad []float32 // bias copied to a padded buffer when its capacity is short
	strip   []float32 // the module's scratch: one packed column strip of b (8*k floats)
)

// simdFull is infer.PanelKernel.Full on the SIMD module. The module works
// on raw addresses, so the lengths are checked here.
func simdFull(m, n, k int, a, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	mp := (m + infer.PanelRows - 1) / infer.PanelRows * infer.PanelRows
	if m <= 0 || n <= 0 || k <= 0 || n%infer.PanelCols != 0 || len(a) < m*k || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n {
		panic("posewasm: sgemm: bad dimensions or lengths")
	}
	var bp unsafe.Pointer
	if bias != nil {
		if len(bias) < m {
			panic("posewasm: sgemm: short bias")
		}
		if cap(bias) < mp {
			biasPad = append(biasPad[:0], bias[:m]...)
			biasPad = append(biasPad, make([]float32, mp-m)...)
			bias = biasPad
		}
		bp = unsafe.Pointer(unsafe.SliceData(bias))
	}
	r := int32(0)
	if relu {
		r = 1
	}
	if len(strip) < infer.PanelCols*k {
		strip = make([]float32, infer.PanelCols*k)
	}
	simdSgemm(int32(m), int32(n), int32(k), unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b)),
		int32(ldb), unsafe.Pointer(unsafe.SliceData(c)), int32(ldc), bp, r, unsafe.Pointer(unsafe.SliceData(strip)))
}

func simdUnroll(cv kern.Conv, x, col []float32) {
	oh, ow := cv.OutH(), cv.OutW()
	if len(x) < cv.InC*cv.InH*cv.InW || len(col) < cv.InC*cv.KH*cv.KW*oh*ow || cv.KH != cv.KW {
		panic("posewasm: im2col: bad lengths")
	}
	simdIm2col(unsafe.Pointer(unsafe.SliceData(x)), unsafe.Pointer(unsafe.SliceData(col)), int32(cv.InC), int32(cv.InH), int32(cv.InW),
		int32(cv.KH), int32(cv.Stride), int32(cv.Pad), int32(oh), int32(ow))
}

// installKernel switches m to the SIMD kernel when the loader provided
// it, and reports whether it did; otherwise m keeps the portable Go
// kernel (kern.Sgemm).
func installKernel(m *infer.Model) bool {
	label := "wasm-simd128"
	switch simdAvailable() {
	case 0:
		return false
	case 2:
		label = "wasm-simd128-relaxed"
	}
	m.SetKernel(infer.PanelKernel{Label: label, Full: simdFull, Unroll: simdUnroll})
	return true
}
