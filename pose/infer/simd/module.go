// Package simd assembles the tiny WebAssembly SIMD128 module that runs the
// convolution GEMM in the browser, byte by byte, with no toolchain.
//
// The module imports its memory (env.memory: Go's own linear memory, the
// exports.mem of the Go instance) and exports two functions,
//
//	sgemm(m, n, k, a, b, ldb, c, ldc, bias, relu, scratch i32)
//	im2col(x, col, inC, inH, inW, k, s, pad, oh, ow i32)
//
// with every pointer a byte offset into that memory. im2col is
// infer.Im2col for a square k x k kernel (copying 4 floats at a time
// where the stride is 1). sgemm computes, for
// i < m and j < n (n a multiple of 8),
//
//	c[i*ldc+j] = f(bias[i] + Σ_p A[i,p]*b[p*ldb+j])
//
// where a holds A row-major (m rows of k floats), bias is 0 (none) or
// points to at least m rounded up to 4 floats, and f is max(·, 0) when
// relu != 0 (NaN becomes 0) and the identity otherwise. scratch is 0 or
// points to 8*k floats that sgemm may overwrite: with it, each column
// strip of b is first copied there contiguously (much faster when ldb is
// a multiple of a large power of two, as the im2col matrices are). It is
// the Full function of infer.PanelKernel.
//
// # Shapes
//
// a: m rows of k floats; b: k rows of ldb floats (n used); c: m rows of
// ldc floats (n written); scratch: 8*k floats. All float32,
// little-endian, row-major.
//
// # Coordinates
//
// The micro-tile is 4 rows × 8 columns (eight f32x4 accumulators, one
// splat of A per row and k step, read through four row pointers); the
// loops run column strips of 8 outermost, then row panels of 4, then the
// full depth k, so one strip of b (k × 32 bytes, copied contiguously to
// scratch) stays in cache while every row panel passes over it. In the
// last panel, rows past m re-read row m-1 and are not stored.
//
// # References
//
//   - WebAssembly SIMD128 (https://github.com/WebAssembly/simd,
//     proposals/simd/BinarySIMD.md) for the opcodes; the core binary
//     format (https://webassembly.github.io/spec/core/binary/).
//   - Goto and van de Geijn, "Anatomy of high-performance matrix
//     multiplication", ACM TOMS 34(3), 2008 (register blocking).
package simd

//go:generate go run ../internal/simdgen -o ../../../web/static/posewasm-simd.wasm -relaxed ../../../web/static/posewasm-simd-relaxed.wasm

// ModuleName and FuncName are the names under which the browser glue
// imports the kernel (//go:wasmimport bsampose_simd sgemm).
const (
	ModuleName = "bsampose_simd"
	FuncName   = "sgemm"
	UnrollName = "im2col"
)

// PanelRows is the height of the micro-tile; it must equal
// infer.PanelRows.
const PanelRows = 4

// Module returns the binary WebAssembly module (a fresh copy).
func Module() []byte {
	return assemble(false)
}

// ModuleRelaxed returns the same module with the multiply-add of sgemm as
// f32x4.relaxed_madd (relaxed SIMD: one FMA where the CPU has it). Its
// results may differ from Module's in the last bits. Browsers without
// relaxed SIMD reject it (WebAssembly.validate is false): use Module.
func ModuleRelaxed() []byte {
	return assemble(true)
}

// wasm value types and opcodes.
const (
	tI32  = 0x7f
	tV128 = 0x7b

	opBlock   = 0x02
	opLoop    = 0x03
	opIf      = 0x04
	opEnd     = 0x0b
	opBr      = 0x0c
	opBrIf    = 0x0d
	opLocalGt = 0x20
	opLocalSt = 0x21
	opLocalTe = 0x22
	opI32C    = 0x41
	opI32Eqz  = 0x45
	opI32GeS  = 0x4e
	opI32GtS  = 0x4a
	opI32Add  = 0x6a
	opI32Sub  = 0x6b
	opI32Mul  = 0x6c
	opI32Shl  = 0x74
	opI32LtS  = 0x48
	opI32LeS  = 0x4c
	opI32Eq   = 0x46
	opI32DivS = 0x6d
	opI32Or   = 0x72
	opF32Load = 0x2a
	opF32St   = 0x38
	opF32C    = 0x43
	opSelect  = 0x1b
	blockVoid = 0x40

	prefixSIMD  = 0xfd
	simdLoad    = 0x00
	simdSplat32 = 0x09 // v128.load32_splat
	simdStore   = 0x0b
	simdConst   = 0x0c
	f32x4Add    = 0xe4
	f32x4Mul    = 0xe6
	f32x4PMax   = 0xeb

	f32x4RelaxedMadd = 0x105 // relaxed SIMD: a*b+c, fused or not
)

// params and locals of sgemm
const (
	pM = iota
	pN
	pK
	pA
	pB
	pLdb
	pC
	pLdc
	pBias
	pRelu
	pScr
	lJ // i32 locals
	lI
	lA0    // PanelRows row pointers into a: lA0 + r
	lBp    = lA0 + PanelRows
	lCp    = lBp + 1
	lKk    = lCp + 1
	lLdb4  = lKk + 1
	lLdc4  = lLdb4 + 1
	lBs    = lLdc4 + 1  // start of the current column strip of b (packed or in place)
	lBstep = lBs + 1    // bytes from one row of that strip to the next
	lSrc   = lBstep + 1 // copy source while packing
	lAcc   = lSrc + 1   // 2*PanelRows v128 accumulators: lAcc + 2*r + h
	lB0    = lAcc + 2*PanelRows
	lB1    = lB0 + 1
	lAv    = lB1 + 1

	numParams = lJ
	numI32    = lAcc - lJ

	numUnrollParams = 10
	numV128         = lAv + 1 - lAcc
)

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// code is a function body under construction.
type code []byte

func (c *code) op(ops ...byte)    { *c = append(*c, ops...) }
func (c *code) get(l int)         { *c = uleb(append(*c, opLocalGt), uint32(l)) }
func (c *code) set(l int)         { *c = uleb(append(*c, opLocalSt), uint32(l)) }
func (c *code) tee(l int)         { *c = uleb(append(*c, opLocalTe), uint32(l)) }
func (c *code) i32(v int32)       { *c = sleb(append(*c, opI32C), v) }
func (c *code) simd(op uint32)    { *c = uleb(append(*c, prefixSIMD), op) }
func (c *code) br(op byte, d int) { *c = uleb(append(*c, op), uint32(d)) }

// mem emits a SIMD memory instruction with alignment log2 align and a
// constant offset.
func (c *code) mem(op uint32, align, offset uint32) {
	c.simd(op)
	*c = uleb(uleb(*c, align), offset)
}

func (c *code) zero() {
	c.simd(simdConst)
	*c = append(*c, make([]byte, 16)...)
}

// addTo emits l += v where v is already on the stack... as l = l + x.
func (c *code) incr(l int, by func()) {
	c.get(l)
	by()
	c.op(opI32Add)
	c.set(l)
}

// while emits: while (cond) { body }.
func (c *code) while(cond, body func()) {
	c.op(opBlock, blockVoid, opLoop, blockVoid)
	cond()
	c.op(opI32Eqz)
	c.br(opBrIf, 1)
	body()
	c.br(opBr, 0)
	c.op(opEnd, opEnd)
}

// ifThen emits: if (cond) { then } else { els } (els may be nil).
func (c *code) ifThen(cond, then, els func()) {
	cond()
	c.op(opIf, blockVoid)
	then()
	if els != nil {
		c.op(0x05)
		els()
	}
	c.op(opEnd)
}

// lt pushes a < b for locals a and b.
func (c *code) lt(a, b int) {
	c.get(a)
	c.get(b)
	c.op(opI32LtS)
}

// plus4LE pushes a+4 <= b for locals a and b.
func (c *code) plus4LE(a, b int) {
	c.get(a)
	c.i32(4)
	c.op(opI32Add)
	c.get(b)
	c.op(opI32LeS)
}

// setExpr sets local l to the value of expr.
func (c *code) setExpr(l int, expr func()) {
	expr()
	c.set(l)
}

func (c *code) addI(l int, v int32) { c.incr(l, func() { c.i32(v) }) }

// storeZeroAdvance stores 0.0 at local pointer p and advances it by 4.
func (c *code) storeZeroAdvance(p int) {
	c.get(p)
	c.op(opF32C, 0, 0, 0, 0)
	c.op(opF32St, 2, 0)
	c.addI(p, 4)
}

// im2col params and locals
const (
	uX = iota
	uCol
	uInC
	uInH
	uInW
	uK
	uS
	uPad
	uOH
	uOW
	uC // i32 locals
	uKy
	uKx
	uOy
	uOx
	uLo
	uHi
	uP   // destination pointer
	uSrc // source pointer
	uIy
	uS4
	uEnd

	numUnrollI32 = uEnd - uC
)

// unrollBody is im2col(x, col, inC, inH, inW, k, s, pad, oh, ow): the
// k x k, stride s, zero-padded unrolling of one image x (inC*inH*inW)
// into col (inC*k*k rows of oh*ow), row (c*k+ky)*k+kx, column oy*ow+ox
// (see infer's im2col).
func unrollBody() []byte {
	var c code
	c.setExpr(uS4, func() { c.get(uS); c.i32(2); c.op(opI32Shl) })
	c.setExpr(uP, func() { c.get(uCol) })
	c.i32(0)
	c.set(uC)
	c.while(func() { c.lt(uC, uInC) }, func() {
		c.i32(0)
		c.set(uKy)
		c.while(func() { c.lt(uKy, uK) }, func() {
			c.i32(0)
			c.set(uKx)
			c.while(func() { c.lt(uKx, uK) }, func() {
				// lo = pad-kx > 0 ? (pad-kx+s-1)/s : 0
				c.i32(0)
				c.set(uLo)
				c.ifThen(func() { c.get(uPad); c.get(uKx); c.op(opI32Sub); c.i32(0); c.op(opI32GtS) }, func() {
					c.setExpr(uLo, func() {
						c.get(uPad)
						c.get(uKx)
						c.op(opI32Sub)
						c.get(uS)
						c.op(opI32Add)
						c.i32(1)
						c.op(opI32Sub)
						c.get(uS)
						c.op(opI32DivS)
					})
				}, nil)
				// hi = inW-1+pad-kx >= 0 ? min(ow, (inW-1+pad-kx)/s+1) : 0
				c.i32(0)
				c.set(uHi)
				hiNum := func() {
					c.get(uInW)
					c.i32(1)
					c.op(opI32Sub)
					c.get(uPad)
					c.op(opI32Add)
					c.get(uKx)
					c.op(opI32Sub)
				}
				c.ifThen(func() { hiNum(); c.i32(0); c.op(opI32GeS) }, func() {
					c.setExpr(uHi, func() { hiNum(); c.get(uS); c.op(opI32DivS); c.i32(1); c.op(opI32Add) })
					c.ifThen(func() { c.lt(uOW, uHi) }, func() { c.setExpr(uHi, func() { c.get(uOW) }) }, nil)
				}, nil)
				c.ifThen(func() { c.lt(uHi, uLo) }, func() { c.setExpr(uLo, func() { c.get(uHi) }) }, nil)
				c.i32(0)
				c.set(uOy)
				c.while(func() { c.lt(uOy, uOH) }, func() {
					// iy = oy*s - pad + ky
					c.setExpr(uIy, func() {
						c.get(uOy)
						c.get(uS)
						c.op(opI32Mul)
						c.get(uPad)
						c.op(opI32Sub)
						c.get(uKy)
						c.op(opI32Add)
					})
					c.i32(0)
					c.set(uOx)
					c.ifThen(func() {
						c.get(uIy)
						c.i32(0)
						c.op(opI32LtS)
						c.get(uIy)
						c.get(uInH)
						c.op(opI32GeS)
						c.op(opI32Or)
					}, func() {
						// a row above or below the image: zeros, 4 at a time
						c.while(func() { c.plus4LE(uOx, uOW) }, func() {
							c.get(uP)
							c.zero()
							c.mem(simdStore, 0, 0)
							c.addI(uP, 16)
							c.addI(uOx, 4)
						})
						c.while(func() { c.lt(uOx, uOW) }, func() {
							c.storeZeroAdvance(uP)
							c.addI(uOx, 1)
						})
					}, func() {
						c.while(func() { c.lt(uOx, uLo) }, func() {
							c.storeZeroAdvance(uP)
							c.addI(uOx, 1)
						})
						// src = x + (((c*inH+iy)*inW) + lo*s - pad + kx)*4
						c.setExpr(uSrc, func() {
							c.get(uX)
							c.get(uC)
							c.get(uInH)
							c.op(opI32Mul)
							c.get(uIy)
							c.op(opI32Add)
							c.get(uInW)
							c.op(opI32Mul)
							c.get(uLo)
							c.get(uS)
							c.op(opI32Mul)
							c.op(opI32Add)
							c.get(uPad)
							c.op(opI32Sub)
							c.get(uKx)
							c.op(opI32Add)
							c.i32(2)
							c.op(opI32Shl)
							c.op(opI32Add)
						})
						// stride 1: the run is contiguous, copy 4 at a time
						c.ifThen(func() { c.get(uS); c.i32(1); c.op(opI32Eq) }, func() {
							c.while(func() { c.plus4LE(uOx, uHi) }, func() {
								c.get(uP)
								c.get(uSrc)
								c.mem(simdLoad, 0, 0)
								c.mem(simdStore, 0, 0)
								c.addI(uP, 16)
								c.addI(uSrc, 16)
								c.addI(uOx, 4)
							})
						}, nil)
						c.while(func() { c.lt(uOx, uHi) }, func() {
							c.get(uP)
							c.get(uSrc)
							c.op(opF32Load, 2, 0)
							c.op(opF32St, 2, 0)
							c.addI(uP, 4)
							c.incr(uSrc, func() { c.get(uS4) })
							c.addI(uOx, 1)
						})
						c.while(func() { c.lt(uOx, uOW) }, func() {
							c.storeZeroAdvance(uP)
							c.addI(uOx, 1)
						})
					})
					c.addI(uOy, 1)
				})
				c.addI(uKx, 1)
			})
			c.addI(uKy, 1)
		})
		c.addI(uC, 1)
	})
	c.op(opEnd)
	fn := uleb(nil, 1)
	fn = uleb(fn, numUnrollI32)
	fn = append(fn, tI32)
	return append(fn, c...)
}

func body(relaxed bool) []byte {
	var c code
	// ldb4 = ldb << 2; ldc4 = ldc << 2; j = 0
	c.get(pLdb)
	c.i32(2)
	c.op(opI32Shl)
	c.set(lLdb4)
	c.get(pLdc)
	c.i32(2)
	c.op(opI32Shl)
	c.set(lLdc4)
	c.i32(0)
	c.set(lJ)
	c.op(opBlock, blockVoid) // $doneJ
	c.op(opLoop, blockVoid)  // $lj
	c.get(lJ)
	c.get(pN)
	c.op(opI32GeS)
	c.br(opBrIf, 1)
	// bs = b + j*4, the strip in place, rows ldb4 apart
	c.setExpr(lBs, func() { c.get(pB); c.get(lJ); c.i32(2); c.op(opI32Shl); c.op(opI32Add) })
	c.setExpr(lBstep, func() { c.get(lLdb4) })
	// With scratch, copy the strip there first (k rows of 32 contiguous
	// bytes): every row panel then streams it sequentially instead of
	// touching one cache line per row at a stride of ldb floats, which
	// for ldb = 768 maps all rows onto a few L1 sets.
	c.ifThen(func() { c.get(pScr) }, func() {
		c.setExpr(lSrc, func() { c.get(lBs) })
		c.setExpr(lBs, func() { c.get(pScr) })
		c.setExpr(lBstep, func() { c.i32(32) })
		c.setExpr(lCp, func() { c.get(pScr) }) // the destination
		c.setExpr(lKk, func() { c.get(pK) })
		c.op(opLoop, blockVoid)
		for h := range uint32(2) {
			c.get(lCp)
			c.get(lSrc)
			c.mem(simdLoad, 2, 16*h)
			c.mem(simdStore, 2, 16*h)
		}
		c.addI(lCp, 32)
		c.incr(lSrc, func() { c.get(lLdb4) })
		c.get(lKk)
		c.i32(1)
		c.op(opI32Sub)
		c.tee(lKk)
		c.br(opBrIf, 0)
		c.op(opEnd)
	}, nil)
	c.i32(0)
	c.set(lI)
	c.op(opBlock, blockVoid) // $doneI
	c.op(opLoop, blockVoid)  // $li
	c.get(lI)
	c.get(pM)
	c.op(opI32GeS)
	c.br(opBrIf, 1)
	// a_r = a + min(i+r, m-1)*k*4: row r of the tile; rows past m
	// re-read row m-1 (their results are not stored)
	for r := range PanelRows {
		c.setExpr(lA0+r, func() {
			c.get(pA)
			c.get(lI)
			c.i32(int32(r))
			c.op(opI32Add)
			c.get(pM)
			c.i32(1)
			c.op(opI32Sub)
			c.get(lI)
			c.i32(int32(r))
			c.op(opI32Add)
			c.get(pM)
			c.op(opI32LtS)
			c.op(opSelect)
			c.get(pK)
			c.op(opI32Mul)
			c.i32(2)
			c.op(opI32Shl)
			c.op(opI32Add)
		})
	}
	c.setExpr(lBp, func() { c.get(lBs) })
	// cp = c + i*ldc4 + j*4
	c.get(pC)
	c.get(lI)
	c.get(lLdc4)
	c.op(opI32Mul)
	c.op(opI32Add)
	c.get(lJ)
	c.i32(2)
	c.op(opI32Shl)
	c.op(opI32Add)
	c.set(lCp)
	// accumulators: bias splat or zero
	c.get(pBias)
	c.op(opI32Eqz)
	c.op(opIf, blockVoid)
	for r := range 2 * PanelRows {
		c.zero()
		c.set(lAcc + r)
	}
	c.op(0x05) // else
	for r := range PanelRows {
		c.get(pBias)
		c.get(lI)
		c.i32(2)
		c.op(opI32Shl)
		c.op(opI32Add)
		c.mem(simdSplat32, 2, uint32(4*r))
		c.tee(lAcc + 2*r)
		c.set(lAcc + 2*r + 1)
	}
	c.op(opEnd)
	// for kk = k; kk != 0; kk--
	c.get(pK)
	c.set(lKk)
	c.op(opLoop, blockVoid) // $lk
	c.get(lBp)
	c.mem(simdLoad, 2, 0)
	c.set(lB0)
	c.get(lBp)
	c.mem(simdLoad, 2, 16)
	c.set(lB1)
	for r := range PanelRows {
		c.get(lA0 + r)
		c.mem(simdSplat32, 2, 0)
		c.set(lAv)
		for h, bl := range []int{lB0, lB1} {
			acc := lAcc + 2*r + h
			if relaxed {
				c.get(lAv)
				c.get(bl)
				c.get(acc)
				c.simd(f32x4RelaxedMadd)
			} else {
				c.get(acc)
				c.get(lAv)
				c.get(bl)
				c.simd(f32x4Mul)
				c.simd(f32x4Add)
			}
			c.set(acc)
		}
	}
	for r := range PanelRows {
		c.addI(lA0+r, 4)
	}
	c.incr(lBp, func() { c.get(lBstep) })
	c.get(lKk)
	c.i32(1)
	c.op(opI32Sub)
	c.tee(lKk)
	c.br(opBrIf, 0)
	c.op(opEnd) // $lk
	// ReLU: acc = pmax(0, acc) (0 < acc ? acc : 0)
	c.get(pRelu)
	c.op(opIf, blockVoid)
	for r := range 2 * PanelRows {
		c.zero()
		c.get(lAcc + r)
		c.simd(f32x4PMax)
		c.set(lAcc + r)
	}
	c.op(opEnd)
	// store the rows that exist: row r if m - i > r
	for r := range PanelRows {
		if r > 0 {
			c.get(pM)
			c.get(lI)
			c.op(opI32Sub)
			c.i32(int32(r))
			c.op(opI32GtS)
			c.op(opIf, blockVoid)
		}
		for h := range 2 {
			c.get(lCp)
			if r > 0 {
				c.get(lLdc4)
				c.i32(int32(r))
				c.op(opI32Mul)
				c.op(opI32Add)
			}
			c.get(lAcc + 2*r + h)
			c.mem(simdStore, 2, uint32(16*h))
		}
		if r > 0 {
			c.op(opEnd)
		}
	}
	// i += 4
	c.incr(lI, func() { c.i32(PanelRows) })
	c.br(opBr, 0)
	c.op(opEnd, opEnd) // $li, $doneI
	c.incr(lJ, func() { c.i32(8) })
	c.br(opBr, 0)
	c.op(opEnd, opEnd) // $lj, $doneJ
	c.op(opEnd)        // function

	var fn []byte
	fn = uleb(fn, 2) // local declarations
	fn = uleb(fn, numI32)
	fn = append(fn, tI32)
	fn = uleb(fn, numV128)
	fn = append(fn, tV128)
	return append(fn, c...)
}

func name(b []byte, s string) []byte {
	return append(uleb(b, uint32(len(s))), s...)
}

func section(mod []byte, id byte, content []byte) []byte {
	mod = append(mod, id)
	mod = uleb(mod, uint32(len(content)))
	return append(mod, content...)
}

func assemble(relaxed bool) []byte {
	mod := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	// type section: sgemm (11 x i32) -> (), im2col (10 x i32) -> ()
	t := uleb(nil, 2)
	for _, n := range []int{numParams, numUnrollParams} {
		t = append(t, 0x60)
		t = uleb(t, uint32(n))
		for range n {
			t = append(t, tI32)
		}
		t = uleb(t, 0)
	}
	mod = section(mod, 1, t)
	// import section: env.memory, limits min 0, no max
	im := uleb(nil, 1)
	im = name(im, "env")
	im = name(im, "memory")
	im = append(im, 0x02, 0x00, 0x00)
	mod = section(mod, 2, im)
	// function section: sgemm (type 0) and im2col (type 1)
	mod = section(mod, 3, []byte{2, 0, 1})
	// export section
	ex := uleb(nil, 2)
	ex = name(ex, FuncName)
	ex = append(ex, 0x00, 0x00)
	ex = name(ex, UnrollName)
	ex = append(ex, 0x00, 0x01)
	mod = section(mod, 7, ex)
	// code section
	cs := uleb(nil, 2)
	for _, b := range [][]byte{body(relaxed), unrollBody()} {
		cs = uleb(cs, uint32(len(b)))
		cs = append(cs, b...)
	}
	return section(mod, 10, cs)
}
