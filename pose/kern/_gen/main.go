// Command _gen writes the GEMM micro-kernels of package kern:
// gemm_amd64.s (AVX2/FMA, ymm, VEX only) and gemm_avx512_amd64.s
// (AVX-512F, zmm, opmask tails), with the Go declarations of the latter;
// the Winograd F(2×2, 3×3) transforms winograd_amd64.s (ymm) and
// winograd_avx512_amd64.s (zmm) from one description (wino.go); and the
// B-panel transpose and scatter of pack_amd64.s (pack.go). Run it with
// `go generate ./pose/kern`;
// the committed files are its output byte for byte (TestGenerated
// checks). It has no dependencies, so the main module gains none.
//
// Every kernel computes a 6-row C tile from an A panel (packed k-major,
// 6 values per k step, or read in place from six row pointers) and a B
// panel (packed k-major, 16 values per k step per panel, or read from
// the shifted image at b + off[p]).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const rows = 6

type isa int

const (
	avx2 isa = iota
	avx512
)

// aSrc and bSrc say where a kernel reads its operands.
type aSrc int

const (
	aPacked aSrc = iota // a: 6 floats per k step
	aRows               // a + 4*off[i]: row i read in place
)

type bSrc int

const (
	bPacked bSrc = iota // b: 16 floats per k step per panel; panels bs floats apart
	bOff                // b + 4*off[p]: the B row of step p, contiguous
)

type kernel struct {
	name string
	isa  isa
	a    aSrc
	b    bSrc
	nv   int // vectors per C row: 2 ymm (AVX2) or 1-4 zmm (AVX-512)
}

// gen accumulates the text of one .s file.
type gen struct {
	buf bytes.Buffer
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
	g.buf.WriteByte('\n')
}

func (g *gen) i(format string, args ...any) {
	g.buf.WriteByte('\t')
	g.p(format, args...)
}

func (k kernel) vec() (string, int) {
	if k.isa == avx512 {
		return "Z", 64
	}
	return "Y", 32
}

// acc is the accumulator of row i, vector v.
func (k kernel) acc(i, v int) string {
	r, _ := k.vec()
	return fmt.Sprintf("%s%d", r, 4+i*k.nv+v)
}

// bcast is the register that holds the broadcast A value of row i.
func (k kernel) bcast(i int) string {
	r, _ := k.vec()
	if k.isa == avx512 {
		return fmt.Sprintf("%s%d", r, 28+i%2)
	}
	return fmt.Sprintf("%s%d", r, 2+i%2)
}

// args returns the Go signature, the argument frame size and the
// argument names with their offsets.
func (k kernel) args() (sig string, size int, off map[string]int) {
	var names []string
	switch {
	case k.a == aPacked && k.b == bPacked:
		names = []string{"kb", "a", "b", "c", "ldc"}
		sig = "kb int, a, b, c *float32, ldc int"
	case k.a == aPacked && k.b == bOff:
		names = []string{"kb", "a", "b", "off", "c", "ldc"}
		sig = "kb int, a, b *float32, off *int, c *float32, ldc int"
	case k.a == aRows && k.b == bPacked:
		names = []string{"kb", "a", "off", "b", "c", "ldc"}
		sig = "kb int, a *float32, off *int, b, c *float32, ldc int"
	}
	if k.isa == avx512 {
		if k.b == bPacked {
			// The stride between the B panels, in floats.
			names = append(names, "bs")
			sig += ", bs int"
		}
		names = append(names, "rows", "mask")
		sig += ", rows, mask int"
	}
	off = map[string]int{}
	for j, n := range names {
		off[n] = 8 * j
	}
	off["acc"] = 8 * len(names)
	return sig + ", acc bool", 8*len(names) + 1, off
}

func (g *gen) kernel(k kernel, doc string) {
	sig, size, off := k.args()
	vr, vb := k.vec()
	l := func(s string) string { return k.name + "_" + s }
	if k.isa == avx2 {
		// The AVX2 labels keep their historical short names.
		pre := map[string]string{"kernelAVX2": "", "kernelOffAVX2": "o", "kernelRowsAVX2": "r"}[k.name]
		l = func(s string) string { return pre + s }
	}
	g.p("// func %s(%s)", k.name, sig)
	g.p("//")
	for _, line := range strings.Split(strings.TrimSpace(doc), "\n") {
		g.p("// %s", line)
	}
	g.p("TEXT ·%s(SB), NOSPLIT, $0-%d", k.name, size)
	arg := func(n, reg string) { g.i("MOVQ %s+%d(FP), %s", n, off[n], reg) }
	arg("kb", "CX")
	switch {
	case k.a == aPacked && k.b == bPacked:
		arg("a", "AX")
		arg("b", "BX")
		arg("c", "DI")
		arg("ldc", "DX")
	case k.b == bOff:
		arg("a", "AX")
		arg("b", "BX")
		arg("off", "SI")
		arg("c", "DI")
		arg("ldc", "DX")
	case k.a == aRows:
		arg("a", "AX")
		arg("off", "SI")
		arg("b", "BX")
		arg("c", "DI")
		arg("ldc", "DX")
	}
	g.i("SHLQ $2, DX")
	// Panel stride registers: R14 = bs bytes, stride3 = 3*bs bytes.
	stride3 := "R13"
	if k.a == aRows {
		stride3 = "AX"
	}
	if k.isa == avx512 && k.b == bPacked && k.nv > 1 {
		arg("bs", "R14")
		g.i("SHLQ $2, R14")
		if k.nv > 3 {
			if k.a == aRows {
				// AX is still needed for the row pointers: set stride3 below.
			} else {
				g.i("LEAQ (R14)(R14*2), %s", stride3)
			}
		}
	}
	g.p("")
	if k.a == aRows {
		for i := range rows {
			r := fmt.Sprintf("R%d", 8+i)
			g.i("MOVQ %d(SI), %s", 8*i, r)
			g.i("LEAQ (AX)(%s*4), %s", r, r)
		}
		g.i("XORQ SI, SI")
		if k.isa == avx512 && k.b == bPacked && k.nv > 3 {
			g.i("LEAQ (R14)(R14*2), %s", stride3)
		}
	}
	for i := range rows {
		for v := range k.nv {
			if k.isa == avx512 {
				g.i("VPXORD %s, %s, %s", k.acc(i, v), k.acc(i, v), k.acc(i, v))
			} else {
				g.i("VXORPS %s, %s, %s", k.acc(i, v), k.acc(i, v), k.acc(i, v))
			}
		}
	}
	cnt := "R8"
	if k.a == aRows {
		cnt = "R15"
	}
	g.i("MOVQ CX, %s", cnt)
	g.i("SHRQ $2, %s", cnt)
	g.i("ANDQ $3, CX")
	g.i("TESTQ %s, %s", cnt, cnt)
	g.i("JZ %s", l("tail"))
	g.p("")

	offRegs := []string{"R10", "R11", "R12", "R13"}
	if k.isa == avx512 && k.b == bOff {
		offRegs = []string{"R10", "R11", "R12", "R14"}
	}
	// step emits one k step u of an unrolled group.
	step := func(u int) {
		for v := range k.nv {
			dst := fmt.Sprintf("%s%d", vr, v)
			var src string
			switch k.b {
			case bPacked:
				if k.isa == avx2 {
					src = fmt.Sprintf("%d(BX)", u*2*vb+v*vb)
					if u == 0 && v == 0 {
						src = "0(BX)"
					}
				} else {
					d := u * vb
					switch v {
					case 0:
						src = fmt.Sprintf("%d(BX)", d)
					case 1:
						src = fmt.Sprintf("%d(BX)(R14*1)", d)
					case 2:
						src = fmt.Sprintf("%d(BX)(R14*2)", d)
					case 3:
						src = fmt.Sprintf("%d(BX)(%s*1)", d, stride3)
					}
				}
			case bOff:
				src = fmt.Sprintf("(BX)(%s*4)", offRegs[u])
				if v > 0 {
					src = fmt.Sprintf("%d(BX)(%s*4)", v*vb, offRegs[u])
				}
			}
			g.i("VMOVUPS %s, %s", src, dst)
		}
		for i := range rows {
			var src string
			if k.a == aPacked {
				src = fmt.Sprintf("%d(AX)", 4*(u*rows+i))
			} else {
				src = fmt.Sprintf("%d(R%d)(SI*1)", 4*u, 8+i)
			}
			g.i("VBROADCASTSS %s, %s", src, k.bcast(i))
			for v := range k.nv {
				g.i("VFMADD231PS %s%d, %s, %s", vr, v, k.bcast(i), k.acc(i, v))
			}
		}
	}
	advance := func(steps int) {
		if k.a == aPacked {
			g.i("ADDQ $%d, AX", 4*rows*steps)
		}
		switch {
		case k.b == bOff:
			g.i("ADDQ $%d, SI", 8*steps)
		case k.a == aRows:
			g.i("ADDQ $%d, SI", 4*steps)
			g.i("ADDQ $%d, BX", 64*steps)
		default:
			g.i("ADDQ $%d, BX", 64*steps)
		}
	}

	g.p("%s:", l("loop4"))
	if k.a == aPacked && k.b == bPacked {
		g.i("PREFETCHT0 512(BX)")
	}
	if k.b == bOff {
		for u := range 4 {
			g.i("MOVQ %d(SI), %s", 8*u, offRegs[u])
		}
	}
	for u := range 4 {
		step(u)
	}
	advance(4)
	g.i("DECQ %s", cnt)
	g.i("JNZ %s", l("loop4"))
	g.p("")
	g.p("%s:", l("tail"))
	g.i("TESTQ CX, CX")
	g.i("JZ %s", l("store"))
	g.p("")
	g.p("%s:", l("loop1"))
	if k.b == bOff {
		g.i("MOVQ 0(SI), %s", offRegs[0])
	}
	step(0)
	advance(1)
	g.i("DECQ CX")
	g.i("JNZ %s", l("loop1"))
	g.p("")
	g.p("%s:", l("store"))
	if k.isa == avx512 {
		g.i("MOVQ rows+%d(FP), SI", off["rows"])
		g.i("MOVQ mask+%d(FP), R9", off["mask"])
		g.i("KMOVW R9, K1")
	}
	g.i("MOVBLZX acc+%d(FP), R9", off["acc"])
	g.i("TESTQ R9, R9")
	g.i("JZ %s", l("overwrite"))
	g.p("")
	g.storeRows(k, true, l)
	g.p("%s:", l("overwrite"))
	g.storeRows(k, false, l)
	if k.isa == avx512 {
		g.p("%s:", l("done"))
		// VZEROUPPER leaves Z16-Z31 alone: zero the ones used, so that
		// the SSE code of the runtime and the OS's context switches do
		// not see dirty upper state.
		for r := 16; r < 4+rows*k.nv; r++ {
			g.i("VPXORD Z%d, Z%d, Z%d", r, r, r)
		}
		g.i("VPXORD Z28, Z28, Z28")
		g.i("VPXORD Z29, Z29, Z29")
		g.i("VZEROUPPER")
		g.i("RET")
		g.p("")
	}
}

// storeRows writes (add=false) or adds (add=true) the accumulators into
// C. The AVX-512 kernels store rows < rows only and mask the last vector
// of each row with K1.
func (g *gen) storeRows(k kernel, add bool, l func(string) string) {
	_, vb := k.vec()
	for i := range rows {
		for v := range k.nv {
			m := ""
			if k.isa == avx512 && v == k.nv-1 {
				m = "K1, "
			}
			mem := "(DI)"
			if v > 0 {
				mem = fmt.Sprintf("%d(DI)", v*vb)
			}
			if add {
				g.i("VADDPS %s, %s, %s%s", mem, k.acc(i, v), m, k.acc(i, v))
			}
			if k.isa == avx2 && add {
				continue
			}
			g.i("VMOVUPS %s, %s%s", k.acc(i, v), m, mem)
		}
		if k.isa == avx2 && add {
			for v := range k.nv {
				mem := "(DI)"
				if v > 0 {
					mem = fmt.Sprintf("%d(DI)", v*vb)
				}
				g.i("VMOVUPS %s, %s", k.acc(i, v), mem)
			}
		}
		if i < rows-1 {
			if k.isa == avx512 {
				g.i("CMPQ SI, $%d", i+1)
				g.i("JEQ %s", l("done"))
			}
			g.i("ADDQ DX, DI")
		}
	}
	if k.isa == avx512 {
		if add {
			g.i("JMP %s", l("done"))
			g.p("")
		}
		return
	}
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// fmaLoop emits a loop of n iterations of acc independent FMAs on
// vector registers r (the FP32 FMA peak: bench measures it).
func (g *gen) fmaLoop(name, r string, acc int, vex bool) {
	lanes := 8
	if r == "Z" {
		lanes = 16
	}
	g.p("// func %s(n int)", name)
	g.p("//")
	g.p("// %d independent chains of VFMADD231PS on %smm registers per iteration", acc, strings.ToLower(r))
	g.p("// (%d FLOP): the FP32 FMA peak that posetrain bench compares with.", 2*lanes*acc)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	g.i("MOVQ n+0(FP), CX")
	for i := range acc + 2 {
		if vex {
			g.i("VXORPS %s%d, %s%d, %s%d", r, i, r, i, r, i)
		} else {
			g.i("VPXORD %s%d, %s%d, %s%d", r, i, r, i, r, i)
		}
	}
	g.i("TESTQ CX, CX")
	g.i("JZ %s_done", name)
	g.p("")
	g.p("%s_loop:", name)
	for i := range acc {
		g.i("VFMADD231PS %s%d, %s%d, %s%d", r, acc, r, acc+1, r, i)
	}
	g.i("DECQ CX")
	g.i("JNZ %s_loop", name)
	g.p("")
	g.p("%s_done:", name)
	for i := 16; i < acc+2; i++ {
		g.i("VPXORD %s%d, %s%d, %s%d", r, i, r, i, r, i)
	}
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

const header = `// Code generated by go generate ./pose/kern (pose/kern/_gen); DO NOT EDIT.

//go:build amd64 && !purego

#include "textflag.h"

`

func avx2File() string {
	g := &gen{}
	g.buf.WriteString(header)
	g.kernel(kernel{"kernelAVX2", avx2, aPacked, bPacked, 2}, `
6×16 micro-kernel: twelve YMM accumulators (Y4..Y15) hold the C tile,
row i in Y(4+2i) (columns 0-7) and Y(5+2i) (columns 8-15). Per k step it
loads 16 B values (Y0, Y1), broadcasts the 6 A values and issues 12 FMAs.
The k loop is unrolled four times. VEX encodings only (no EVEX: this
file must run on any AVX2 CPU).`)
	g.kernel(kernel{"kernelOffAVX2", avx2, aPacked, bOff, 2}, `
kernelAVX2 with B row p loaded from b + 4*off[p] bytes (the shifted
image rows of the implicit convolution GEMM) instead of a packed panel.`)
	g.kernel(kernel{"kernelRowsAVX2", avx2, aRows, bPacked, 2}, `
kernelAVX2 with A read in place: row i of the 6×kb A panel is the kb
floats at a + 4*off[i] (rows of the padded image in the implicit
filter-gradient GEMM) instead of a packed panel. R8-R13 hold the six
row pointers, SI the byte offset of the k step.`)
	g.fmaLoop("fmaLoopAVX2", "Y", 12, true)
	return strings.TrimSuffix(g.buf.String(), "\n")
}

func avx512Kernels() []kernel {
	var ks []kernel
	for _, f := range []struct {
		name string
		a    aSrc
		b    bSrc
	}{{"kernelZ", aPacked, bPacked}, {"kernelOffZ", aPacked, bOff}, {"kernelRowsZ", aRows, bPacked}} {
		for nv := 1; nv <= 4; nv++ {
			ks = append(ks, kernel{fmt.Sprintf("%s%d", f.name, nv), avx512, f.a, f.b, nv})
		}
	}
	return ks
}

func avx512File() string {
	g := &gen{}
	g.buf.WriteString(header)
	for nv := 1; nv <= 4; nv++ {
		g.kernel(kernel{fmt.Sprintf("kernelZ%d", nv), avx512, aPacked, bPacked, nv}, fmt.Sprintf(`
6×%d AVX-512 micro-kernel: %d ZMM accumulators (Z4..Z%d), row i vector v in
Z(4+%d*i+v); B vector v comes from the packed panel v (bs floats after
panel v-1), the A values are broadcast into Z28/Z29. The k loop is
unrolled four times. Only rows < rows are stored, and the last vector
of each row under the opmask mask (K1), so no tail needs a scratch tile.`,
			16*nv, rows*nv, 3+rows*nv, nv))
	}
	for nv := 1; nv <= 4; nv++ {
		g.kernel(kernel{fmt.Sprintf("kernelOffZ%d", nv), avx512, aPacked, bOff, nv}, fmt.Sprintf(`
kernelZ%d with B row p read at b + 4*off[p] bytes (%d contiguous floats).`, nv, 16*nv))
	}
	for nv := 1; nv <= 4; nv++ {
		g.kernel(kernel{fmt.Sprintf("kernelRowsZ%d", nv), avx512, aRows, bPacked, nv}, fmt.Sprintf(`
kernelZ%d with row i of A read in place at a + 4*off[i] (R8-R13).`, nv))
	}
	g.fmaLoop("fmaLoopZ", "Z", 24, false)
	return strings.TrimSuffix(g.buf.String(), "\n")
}

// declFile is the Go declarations of the AVX-512 kernels.
func declFile() string {
	var b strings.Builder
	b.WriteString("// Code generated by go generate ./pose/kern (pose/kern/_gen); DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage kern\n")
	for _, k := range avx512Kernels() {
		sig, _, _ := k.args()
		fmt.Fprintf(&b, "\n//go:noescape\nfunc %s(%s)\n", k.name, sig)
	}
	b.WriteString("\n// fmaLoopZ runs n iterations of 24 independent zmm FMAs (768 FLOP).\nfunc fmaLoopZ(n int)\n")
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		log.Fatal(err)
	}
	return string(src)
}

// generate returns the text of every file the generator writes, by
// name in package kern.
func generate() map[string]string {
	return map[string]string{
		"gemm_amd64.s":            avx2File(),
		"gemm_avx512_amd64.s":     avx512File(),
		"gemm_avx512_amd64.go":    declFile(),
		"winograd_amd64.s":        winoFile(ymm),
		"winograd_avx512_amd64.s": winoFile(zmm),
		"pack_amd64.s":            packFile(),
	}
}

// avx2Files are the generated files of the AVX2 path: VEX only.
var avx2Files = []string{"gemm_amd64.s", "winograd_amd64.s", "pack_amd64.s"}

func main() {
	out := flag.String("out", "..", "directory of package kern")
	check := flag.Bool("check", false, "report files that differ from the generator's output instead of writing them")
	list := flag.Bool("list", false, "print the names of the files the generator writes")
	flag.Parse()
	files := generate()
	// The AVX2 path must run on CPUs without AVX-512.
	for _, name := range avx2Files {
		if bad := vexOnly(files[name]); len(bad) > 0 {
			log.Fatalf("%s: EVEX-only instructions or registers:\n%s", name, strings.Join(bad, "\n"))
		}
	}
	if *list {
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	bad := false
	for name, text := range files {
		path := filepath.Join(*out, name)
		if *check {
			old, err := os.ReadFile(path)
			if err != nil || string(old) != text {
				fmt.Fprintf(os.Stderr, "%s is not what the generator writes: run go generate ./pose/kern\n", path)
				bad = true
			}
			continue
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if bad {
		os.Exit(1)
	}
}
