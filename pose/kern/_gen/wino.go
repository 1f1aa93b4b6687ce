package main

import (
	"fmt"
	"strings"
)

// The Winograd F(2×2, 3×3) transforms of winograd.go (Lavin and Gray,
// arXiv:1509.09308), as the matrices of the paper: the input transform
// is V = Bᵀ d B for a 4×4 input tile d, the output transform
// Y = Aᵀ M A for a 4×4 transformed tile M. Every entry is 0 or ±1, so
// each row is a chain of adds and subtracts; both vector widths are
// emitted from these two tables.
var (
	winoBT = [][]int{
		{1, 0, -1, 0},
		{0, 1, 1, 0},
		{0, -1, 1, 0},
		{0, 1, 0, -1},
	}
	winoAT = [][]int{
		{1, 1, 1, 0},
		{0, 1, -1, -1},
	}
)

// term is one operand of a transform row: a register or memory operand
// and the sign it enters with.
type term struct {
	src string
	neg bool
}

// terms lists the nonzero entries of row as operands: the first
// positive one leads (the chain starts from it), the rest follow in
// column order.
func terms(row []int, operand func(j int) string) []term {
	lead := -1
	for j, c := range row {
		if c == 1 {
			lead = j
			break
		}
	}
	if lead < 0 {
		panic("gen: a transform row without a positive entry")
	}
	t := []term{{operand(lead), false}}
	for j, c := range row {
		switch {
		case j == lead || c == 0:
		case c == 1 || c == -1:
			t = append(t, term{operand(j), c < 0})
		default:
			panic("gen: a transform entry other than 0 or ±1")
		}
	}
	return t
}

// formula renders row as text (x0-x2) for the comments.
func formula(row []int, x string) string {
	var b strings.Builder
	for i, t := range terms(row, func(j int) string { return fmt.Sprintf("%s%d", x, j) }) {
		if i > 0 {
			b.WriteString(map[bool]string{false: "+", true: "-"}[t.neg])
		}
		b.WriteString(t.src)
	}
	return b.String()
}

func formulas(m [][]int, x string) string {
	var f []string
	for _, row := range m {
		f = append(f, formula(row, x))
	}
	return strings.Join(f, ", ")
}

// equations renders m as y0 = x0+x1+x2, ... for the comments.
func equations(m [][]int, y, x string) string {
	var f []string
	for i, row := range m {
		f = append(f, fmt.Sprintf("%s%d = %s", y, i, formula(row, x)))
	}
	return strings.Join(f, ", ")
}

// chain emits dst = t[0] ± t[1] ± ...: a memory operand that leads is
// loaded first (VEX takes memory in the first source only).
func (g *gen) chain(dst string, t []term) {
	acc := t[0].src
	if strings.Contains(acc, "(") {
		g.i("VMOVUPS %s, %s", acc, dst)
		acc = dst
	}
	for _, x := range t[1:] {
		op := "VADDPS"
		if x.neg {
			op = "VSUBPS"
		}
		g.i("%s %s, %s, %s", op, x.src, acc, dst)
		acc = dst
	}
}

// width is one vector width of the transforms.
type width struct {
	reg    string // register prefix: Y or Z
	bytes  int    // bytes per register
	suffix string // of the function names: AVX2 or Z
	label  string // prefix of the loop labels
}

var (
	ymm = width{"Y", 32, "AVX2", ""}
	zmm = width{"Z", 64, "Z", "z"}
)

func (w width) r(n int) string { return fmt.Sprintf("%s%d", w.reg, n) }

// arg is one 8-byte argument of an assembly function and the register
// it is loaded into; a stride (in floats) becomes bytes.
type arg struct {
	name   string
	stride bool
	reg    string
}

// frame emits the header of function name with Go signature sig and
// loads its arguments, whose frame offsets follow from their order.
func (g *gen) frame(name, sig string, args []arg) {
	g.p("// func %s(%s)", name, sig)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, 8*len(args))
	for j, a := range args {
		g.i("MOVQ %s+%d(FP), %s", a.name, 8*j, a.reg)
		if a.stride {
			g.i("SHLQ $2, %s", a.reg)
		}
	}
}

// stride is the index part of the address of element k of four at
// stride reg (reg3 holds 3*reg).
func stride(k int, reg, reg3 string) string {
	switch k {
	case 0:
		return ""
	case 3:
		return fmt.Sprintf("(%s*1)", reg3)
	}
	return fmt.Sprintf("(%s*%d)", reg, k)
}

// winoIn emits the input transform: blocks of lanes tiles, tile q's
// 4×4 patch read from the phase planes (d[i][j] at plane (i%2, j%2),
// row i/2, column j/2), the 16 products V[4i+j] stored ps floats apart.
func (g *gen) winoIn(w width) {
	g.frame("winoIn"+w.suffix, "p00, p01, p10, p11 *float32, wp, blocks int, dst *float32, ps int", []arg{
		{"p00", false, "R9"}, {"p01", false, "R10"}, {"p10", false, "R11"}, {"p11", false, "R12"},
		{"wp", true, "BX"}, {"blocks", false, "CX"}, {"dst", false, "DI"}, {"ps", true, "DX"},
	})
	plane := [2][2]string{{"R9", "R10"}, {"R11", "R12"}}
	// dst rows 4i: DI, SI = DI+4ps, AX = DI+8ps, R8 = DI+12ps.
	out := [4]string{"DI", "SI", "AX", "R8"}
	g.i("LEAQ (DX)(DX*2), R13")
	g.i("LEAQ (DI)(DX*4), SI")
	g.i("LEAQ (DI)(DX*8), AX")
	g.i("LEAQ (AX)(DX*4), R8")
	g.p("%sinloop:", w.label)
	g.i("// rows of Bᵀd: %s; then (·)B: %s", formulas(winoBT, "d"), formulas(winoBT, "x"))
	d := func(i, j int) string {
		mem := fmt.Sprintf("(%s)", plane[i%2][j%2])
		if j/2 > 0 {
			mem = fmt.Sprintf("%d%s", 4*(j/2), mem)
		}
		if i/2 > 0 {
			mem += "(BX*1)"
		}
		return mem
	}
	for i, row := range winoBT {
		// x[j] = (Bᵀd)[i][j] in register j.
		for j := range 4 {
			g.chain(w.r(j), terms(row, func(k int) string { return d(k, j) }))
		}
		for j, col := range winoBT {
			g.chain(w.r(4+j), terms(col, w.r))
		}
		for j := range 4 {
			g.i("VMOVUPS %s, (%s)%s", w.r(4+j), out[i], stride(j, "DX", "R13"))
		}
	}
	g.next(w, "inloop", "R9", "R10", "R11", "R12", "DI", "SI", "AX", "R8")
}

// winoOut emits the output transform: product p of tile q at
// m + p*ps, output pixel (a, b) of the tile to dst + (2a+b)*ds.
func (g *gen) winoOut(w width) {
	g.frame("winoOut"+w.suffix, "m *float32, ps, blocks int, dst *float32, ds int", []arg{
		{"m", false, "SI"}, {"ps", true, "DX"}, {"blocks", false, "CX"}, {"dst", false, "DI"}, {"ds", true, "R10"},
	})
	// rows 4r of M: SI, AX = SI+4ps, BX = SI+8ps, R9 = SI+12ps.
	in := [4]string{"SI", "AX", "BX", "R9"}
	g.i("LEAQ (DX)(DX*2), R13")
	g.i("LEAQ (R10)(R10*2), R11")
	g.i("LEAQ (SI)(DX*4), AX")
	g.i("LEAQ (SI)(DX*8), BX")
	g.i("LEAQ (BX)(DX*4), R9")
	g.p("%soutloop:", w.label)
	g.i("// each row of M: %s", equations(winoAT, "s", "x"))
	// s[r][b] = (M A)[r][b] in register 4+2r+b.
	s := func(r, b int) string { return w.r(4 + 2*r + b) }
	for r := range 4 {
		for c := range 4 {
			g.i("VMOVUPS (%s)%s, %s", in[r], stride(c, "DX", "R13"), w.r(c))
		}
		for b, row := range winoAT {
			g.chain(s(r, b), terms(row, w.r))
		}
	}
	g.i("// the columns: %s", equations(winoAT, "y", "s"))
	for a, row := range winoAT {
		for b := range 2 {
			g.chain(w.r(2*a+b), terms(row, func(r int) string { return s(r, b) }))
		}
	}
	for k := range 4 {
		g.i("VMOVUPS %s, (DI)%s", w.r(k), stride(k, "R10", "R11"))
	}
	g.next(w, "outloop", "SI", "AX", "BX", "R9", "DI")
}

// next closes a transform loop: it advances the pointers regs by one
// register of tiles and repeats from label while CX blocks remain.
func (g *gen) next(w width, label string, regs ...string) {
	for _, r := range regs {
		g.i("ADDQ $%d, %s", w.bytes, r)
	}
	g.i("DECQ CX")
	g.i("JNZ %s%s", w.label, label)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

func winoFile(w width) string {
	g := &gen{}
	g.buf.WriteString(header)
	if w == ymm {
		g.p("// Winograd F(2x2, 3x3) transforms (winograd.go), eight tiles per YMM")
		g.p("// register. Offsets and strides arrive in floats and become bytes.")
		g.p("// VEX encodings only: this file must run on any AVX2 CPU.")
	} else {
		g.p("// The Winograd F(2x2, 3x3) transforms of winograd_amd64.s with ZMM")
		g.p("// registers: sixteen tiles per register (blocks counts pairs of the AVX2")
		g.p("// version's eight-tile blocks). AVX-512F; only the avx512 path calls them.")
	}
	g.p("")
	g.winoIn(w)
	g.winoOut(w)
	return strings.TrimSuffix(g.buf.String(), "\n")
}
