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
	// winoG is G of the weight transform U = G g Gᵀ for a 3×3 filter g
	// with the ½ of its middle rows factored out (winoGHalf): the rows
	// are g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2, as in winoWeightsGo.
	winoG = [][]int{
		{1, 0, 0},
		{1, 1, 1},
		{1, -1, 1},
		{0, 0, 1},
	}
	winoGHalf = []bool{false, true, true, false}
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

// load loads register r of width w from mem: whole, or for a tail
// masked by Y<ymask> (AVX2) or K<kmask> (AVX-512), the masked-off lanes
// zeroed.
func (g *gen) load(w width, mem string, r int, tail bool, ymask, kmask int) {
	switch {
	case !tail:
		g.i("VMOVUPS %s, %s", mem, w.r(r))
	case w == ymm:
		g.i("VMASKMOVPS %s, Y%d, Y%d", mem, ymask, r)
	default:
		g.i("VMOVUPS.Z %s, K%d, Z%d", mem, kmask, r)
	}
}

// store stores register r of width w to mem: whole, or for a tail only
// the lanes of the mask Y<ymask> (AVX2) or K<kmask> (AVX-512), the
// memory of the others untouched.
func (g *gen) store(w width, r int, mem string, tail bool, ymask, kmask int) {
	switch {
	case !tail:
		g.i("VMOVUPS %s, %s", w.r(r), mem)
	case w == ymm:
		g.i("VMASKMOVPS Y%d, Y%d, %s", r, ymask, mem)
	default:
		g.i("VMOVUPS Z%d, K%d, %s", r, kmask, mem)
	}
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
		g.p("// Then winoStoreAVX2, the store of the output tiles through the epilogue,")
		g.p("// and deal2AVX2, the even/odd split of rows for stride-2 phase planes,")
		g.p("// and winoWeightsAVX2, the weight transform of eight filters per register.")
		g.p("// VEX encodings only: this file must run on any AVX2 CPU.")
	} else {
		g.p("// The Winograd F(2x2, 3x3) transforms of winograd_amd64.s with ZMM")
		g.p("// registers: sixteen tiles per register (blocks counts pairs of the AVX2")
		g.p("// version's eight-tile blocks), then winoStoreZ, deal2Z and winoWeightsZ,")
		g.p("// sixteen values or filters per register with opmask tails. AVX-512F; only")
		g.p("// the avx512 path calls them.")
	}
	g.p("")
	g.winoIn(w)
	g.winoOut(w)
	g.storeData(w)
	g.winoStore(w)
	g.deal2(w)
	g.weightData(w)
	g.winoWeights(w)
	return strings.TrimSuffix(g.buf.String(), "\n")
}

// winoStore emits the store of the output tiles of one channel of one
// image (winoStoreGo in winograd.go): for tile row ty < th and output
// row a < 2, the tw values at ph + (2a+b)*ps + ty*wp (phase plane 2a+b,
// b = 0 the even and b = 1 the odd output columns) go through the
// epilogue f and are interleaved into output row 2ty+a, the 2tw floats
// at y + (2ty+a)*2tw: row[2tx] = f(even[tx]), row[2tx+1] = f(odd[tx]).
// The rows follow each other, so y only advances.
//
// f is v+add, then (v-mean)*scale+shift if bn, then relu32(v) if relu:
// the float32 operations of the Go loop in its order, each rounded once
// (no FMA). VMAXPS with the zero vector as its first source and v as
// its second returns v when v is NaN or ±0, so NaN stays NaN and -0
// stays -0, as relu32 and the affine epilogue of the other paths do.
// The four (bn, relu) cases are four copies of the loop nest.
//
// The tail of each row (tw mod lanes values) uses masked loads and
// stores: VMASKMOVPS with masks from a table on ymm, opmasks on zmm.
func (g *gen) winoStore(w width) {
	lanes := w.bytes / 4
	name := "winoStore" + w.suffix
	g.p("// func %s(ph *float32, ps, wp, th, tw int, y *float32, add, mean, scale, shift float32, bn, relu bool)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-66", name)
	g.i("MOVQ ph+0(FP), SI")
	g.i("MOVQ ps+8(FP), DX")
	g.i("SHLQ $2, DX")
	g.i("MOVQ wp+16(FP), BX")
	g.i("SHLQ $2, BX")
	g.i("MOVQ tw+32(FP), R12")
	g.i("MOVQ y+40(FP), DI")
	for j, f := range []string{"add", "mean", "scale", "shift"} {
		g.i("VBROADCASTSS %s+%d(FP), %s", f, 48+4*j, w.r(8+j))
	}
	if w == ymm {
		g.i("VXORPS Y12, Y12, Y12")
	} else {
		g.i("VPXORD Z12, Z12, Z12")
	}
	// R12 = full vectors per row, R11 = the tail's values.
	g.i("MOVQ R12, R11")
	g.i("ANDQ $%d, R11", lanes-1)
	g.i("SHRQ $%d, R12", map[int]int{8: 3, 16: 4}[lanes])
	if w == ymm {
		// Masks for c lanes: the 8 floats at ones<> + 4*(8-c). Y13 for
		// the loads (c = n), Y14 and Y15 for the two output vectors
		// (c = min(2n, 8) and 2n - that).
		g.i("LEAQ winoOnes<>+32(SB), AX")
		g.i("MOVQ R11, CX")
		g.i("NEGQ CX")
		g.i("VMOVUPS (AX)(CX*4), Y13")
		g.i("SHLQ $1, CX")
		g.i("MOVQ CX, R10")
		g.i("MOVQ $-8, R9")
		g.i("CMPQ CX, R9")
		g.i("CMOVQLT R9, CX")
		g.i("VMOVUPS (AX)(CX*4), Y14")
		g.i("SUBQ CX, R10")
		g.i("VMOVUPS (AX)(R10*4), Y15")
	} else {
		// K1 = the n tail lanes of the loads; the 2n output values are
		// the low 2n bits of (1<<2n)-1: K2 the first vector, K3 the second.
		g.i("MOVQ R11, CX")
		g.i("MOVL $1, AX")
		g.i("SHLL CX, AX")
		g.i("DECL AX")
		g.i("KMOVW AX, K1")
		g.i("SHLQ $1, CX")
		g.i("MOVL $1, AX")
		g.i("SHLL CX, AX")
		g.i("DECL AX")
		g.i("KMOVW AX, K2")
		g.i("SHRL $16, AX")
		g.i("KMOVW AX, K3")
		g.i("VMOVUPS winoIlv<>+0(SB), Z14")
		g.i("VMOVUPS winoIlv<>+64(SB), Z15")
	}
	g.i("MOVBLZX bn+64(FP), AX")
	g.i("MOVBLZX relu+65(FP), CX")
	g.i("LEAQ (CX)(AX*2), AX")
	for mode := 1; mode < 4; mode++ {
		g.i("CMPQ AX, $%d", mode)
		g.i("JEQ %sst%d", w.label, mode)
	}
	for mode := range 4 {
		g.storeNest(w, mode&2 != 0, mode&1 != 0, fmt.Sprintf("%sst%d", w.label, mode))
	}
	g.p("%sstdone:", w.label)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// storeNest emits winoStore's loops for one (bn, relu) case; l prefixes
// its labels.
func (g *gen) storeNest(w width, bn, relu bool, l string) {
	// f applies the epilogue to register r in place.
	f := func(r string) {
		g.i("VADDPS %s, %s, %s", w.r(8), r, r)
		if bn {
			g.i("VSUBPS %s, %s, %s", w.r(9), r, r)
			g.i("VMULPS %s, %s, %s", w.r(10), r, r)
			g.i("VADDPS %s, %s, %s", w.r(11), r, r)
		}
		if relu {
			// Go's operand order: src2 (r), src1 (zero), dst.
			g.i("VMAXPS %s, %s, %s", r, w.r(12), r)
		}
	}
	// pair loads the even (AX) and odd (AX+ps) values into registers 0
	// and 1, applies f and leaves the interleaved output in 4 and 5.
	pair := func(tail bool) {
		for b, mem := range []string{"(AX)", "(AX)(DX*1)"} {
			g.load(w, mem, b, tail, 13, 1)
		}
		f(w.r(0))
		f(w.r(1))
		if w == ymm {
			// Unpacks interleave within the 128-bit lanes, the lane
			// permutes put the four pairs of lanes in order.
			g.i("VUNPCKLPS Y1, Y0, Y2")
			g.i("VUNPCKHPS Y1, Y0, Y3")
			g.i("VPERM2F128 $0x20, Y3, Y2, Y4")
			g.i("VPERM2F128 $0x31, Y3, Y2, Y5")
		} else {
			// Z14 and Z15 index the even values 0-15 and the odd 16-31.
			g.i("VMOVAPS Z0, Z4")
			g.i("VPERMT2PS Z1, Z14, Z4")
			g.i("VMOVAPS Z0, Z5")
			g.i("VPERMT2PS Z1, Z15, Z5")
		}
		for v, mem := range []string{"(DI)", fmt.Sprintf("%d(DI)", w.bytes)} {
			g.store(w, 4+v, mem, tail, 14+v, 2+v)
		}
	}
	g.p("%s:", l)
	g.i("MOVQ th+24(FP), R14")
	g.p("%sty:", l)
	// R8: the even plane of output row a (a = 0, 1: two planes apart).
	g.i("MOVQ SI, R8")
	g.i("MOVQ $2, R13")
	g.p("%sa:", l)
	g.i("MOVQ R8, AX")
	g.i("MOVQ R12, R10")
	g.i("TESTQ R10, R10")
	g.i("JZ %stail", l)
	g.p("%sloop:", l)
	pair(false)
	g.i("ADDQ $%d, AX", w.bytes)
	g.i("ADDQ $%d, DI", 2*w.bytes)
	g.i("DECQ R10")
	g.i("JNZ %sloop", l)
	g.p("%stail:", l)
	g.i("TESTQ R11, R11")
	g.i("JZ %snext", l)
	pair(true)
	g.i("LEAQ (DI)(R11*8), DI")
	g.p("%snext:", l)
	g.i("LEAQ (R8)(DX*2), R8")
	g.i("DECQ R13")
	g.i("JNZ %sa", l)
	g.i("ADDQ BX, SI")
	g.i("DECQ R14")
	g.i("JNZ %sty", l)
	g.i("JMP %sstdone", w.label)
}

// storeData emits the constant tables of winoStore and deal2: for ymm,
// 8 words of all ones then 8 zero words (the VMASKMOVPS masks); for
// zmm, the VPERMT2PS indices that interleave two vectors (0, 16, 1, 17,
// ...) and that split them (0, 2, ..., 30, 1, 3, ..., 31).
func (g *gen) storeData(w width) {
	if w == ymm {
		for j := range 16 {
			v := "0xffffffff"
			if j >= 8 {
				v = "0x00000000"
			}
			g.p("DATA winoOnes<>+%d(SB)/4, $%s", 4*j, v)
		}
		g.p("GLOBL winoOnes<>(SB), RODATA|NOPTR, $64")
		g.p("")
		return
	}
	for j := range 32 {
		g.p("DATA winoIlv<>+%d(SB)/4, $%d", 4*j, j/2+16*(j%2))
	}
	g.p("GLOBL winoIlv<>(SB), RODATA|NOPTR, $128")
	g.p("")
	// deal2's indices: the even of 32 values, then the odd.
	for j := range 32 {
		g.p("DATA winoEvOd<>+%d(SB)/4, $%d", 4*j, 2*(j%16)+j/16)
	}
	g.p("GLOBL winoEvOd<>(SB), RODATA|NOPTR, $128")
	g.p("")
}

// deal2 emits the even/odd split of rows that the phase planes of a
// stride-2 layout need (deal2Go in winograd.go): for r < rows and
// t < n, ev[r*ds+t] = src[r*ss+2t] and od[r*ds+t] = src[r*ss+2t+1].
// Per register of outputs it loads two of the source; shuffles put the
// even values in one and the odd in the other. Each row ends in a
// masked tail of 1 to lanes values (so n >= 1; rows >= 1), which reads
// exactly the 2n source floats of the row.
func (g *gen) deal2(w width) {
	lanes := w.bytes / 4
	name := "deal2" + w.suffix
	l := w.label + "dl"
	g.frame(name, "src *float32, ss int, ev, od *float32, ds, n, rows int", []arg{
		{"src", false, "SI"}, {"ss", true, "BX"}, {"ev", false, "DI"}, {"od", false, "R8"},
		{"ds", true, "DX"}, {"n", false, "R12"}, {"rows", false, "R14"},
	})
	// R12 = full registers per row, R11 = the tail's values (1..lanes).
	g.i("DECQ R12")
	g.i("MOVQ R12, R11")
	g.i("SHRQ $%d, R12", map[int]int{8: 3, 16: 4}[lanes])
	g.i("ANDQ $%d, R11", lanes-1)
	g.i("INCQ R11")
	if w == ymm {
		// Masks from winoOnes: Y15 the t outputs, Y13 and Y14 the 2t
		// source floats (min(2t, 8) and the rest).
		g.i("LEAQ winoOnes<>+32(SB), AX")
		g.i("MOVQ R11, CX")
		g.i("NEGQ CX")
		g.i("VMOVUPS (AX)(CX*4), Y15")
		g.i("SHLQ $1, CX")
		g.i("MOVQ CX, R10")
		g.i("MOVQ $-8, R9")
		g.i("CMPQ CX, R9")
		g.i("CMOVQLT R9, CX")
		g.i("VMOVUPS (AX)(CX*4), Y13")
		g.i("SUBQ CX, R10")
		g.i("VMOVUPS (AX)(R10*4), Y14")
	} else {
		// K1 = the t outputs; the low 2t bits of (1<<2t)-1 are the
		// source floats, K2 the first register's, K3 the second's.
		g.i("MOVQ R11, CX")
		g.i("MOVQ $1, AX")
		g.i("SHLQ CX, AX")
		g.i("DECQ AX")
		g.i("KMOVW AX, K1")
		g.i("SHLQ $1, CX")
		g.i("MOVQ $1, AX")
		g.i("SHLQ CX, AX")
		g.i("DECQ AX")
		g.i("KMOVW AX, K2")
		g.i("SHRQ $16, AX")
		g.i("KMOVW AX, K3")
		g.i("VMOVUPS winoEvOd<>+0(SB), Z14")
		g.i("VMOVUPS winoEvOd<>+64(SB), Z15")
	}
	// split loads two source registers into 0 and 1 and leaves the even
	// values in 2 and the odd in 3.
	split := func(tail bool) {
		for v, mem := range []string{"(AX)", fmt.Sprintf("%d(AX)", w.bytes)} {
			g.load(w, mem, v, tail, 13+v, 2+v)
		}
		if w == ymm {
			// Within each 128-bit lane: a0 a2 b0 b2 (0x88), a1 a3 b1 b3
			// (0xDD); the 64-bit permute puts the lanes' halves in order.
			g.i("VSHUFPS $0x88, Y1, Y0, Y2")
			g.i("VSHUFPS $0xDD, Y1, Y0, Y3")
			g.i("VPERMPD $0xD8, Y2, Y2")
			g.i("VPERMPD $0xD8, Y3, Y3")
		} else {
			// Z14 and Z15 index the even and the odd of the 32 values.
			g.i("VMOVAPS Z0, Z2")
			g.i("VPERMT2PS Z1, Z14, Z2")
			g.i("VMOVAPS Z0, Z3")
			g.i("VPERMT2PS Z1, Z15, Z3")
		}
		for v, dst := range []string{"(R9)", "(R10)"} {
			g.store(w, 2+v, dst, tail, 15, 1)
		}
	}
	g.p("%srow:", l)
	g.i("MOVQ SI, AX")
	g.i("MOVQ DI, R9")
	g.i("MOVQ R8, R10")
	g.i("MOVQ R12, R13")
	g.i("TESTQ R13, R13")
	g.i("JZ %stail", l)
	g.p("%sloop:", l)
	split(false)
	g.i("ADDQ $%d, AX", 2*w.bytes)
	g.i("ADDQ $%d, R9", w.bytes)
	g.i("ADDQ $%d, R10", w.bytes)
	g.i("DECQ R13")
	g.i("JNZ %sloop", l)
	g.p("%stail:", l)
	split(true)
	g.i("ADDQ BX, SI")
	g.i("ADDQ DX, DI")
	g.i("ADDQ DX, R8")
	g.i("DECQ R14")
	g.i("JNZ %srow", l)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// weightData emits the constants of winoWeights: the gather indices of
// one register of filters, 0, 9, 18, ... (filter q's taps start 9q
// floats in), and ½.
func (g *gen) weightData(w width) {
	for j := range w.bytes / 4 {
		g.p("DATA winoNine<>+%d(SB)/4, $%d", 4*j, 9*j)
	}
	g.p("GLOBL winoNine<>(SB), RODATA|NOPTR, $%d", w.bytes)
	g.p("")
	g.p("DATA winoHalf<>+0(SB)/4, $0x3f000000")
	g.p("GLOBL winoHalf<>(SB), RODATA|NOPTR, $4")
	g.p("")
}

// winoWeights emits the weight transform of n ≥ 1 filters
// (winoWeightsGo in winograd.go): the 9 taps of filter q, row-major at
// w + 36q bytes, go through U = G g Gᵀ, and U[p] (p = 4*row+col) goes to
// u + 4*(p*ps + q) bytes. One register holds tap k of lanes consecutive
// filters, gathered 9 floats apart (the indices winoNine; VGATHERDPS
// clears its mask, so the mask is copied before each gather). Each row
// of G is a chain of adds and subtracts, halved by a VMULPS where
// winoGHalf says: the float32 operations of the Go loop in its order,
// each rounded once (no FMA), so the bits are the same. The last
// register (1 to lanes filters) gathers and stores under a mask, so
// nothing outside the n filters and their 16 values is read or written.
//
// Registers 0-8 hold the taps, 9-11 and the taps of the columns done
// hold the rows of G g, 12 is the copy of the AVX2 gather mask 13, 14
// holds ½ and 15 the indices; K1 is the AVX-512 mask and K2 its copy.
func (g *gen) winoWeights(w width) {
	lanes := w.bytes / 4
	name := "winoWeights" + w.suffix
	l := w.label + "wg"
	g.frame(name, "w *float32, n int, u *float32, ps int", []arg{
		{"w", false, "SI"}, {"n", false, "CX"}, {"u", false, "DI"}, {"ps", true, "DX"},
	})
	// U[4i+col] at out[i] + col*ps: DI, R8 = DI+4ps, R9 = DI+8ps, R10 = DI+12ps.
	out := [4]string{"DI", "R8", "R9", "R10"}
	g.i("LEAQ (DX)(DX*2), R13")
	g.i("LEAQ (DI)(DX*4), R8")
	g.i("LEAQ (DI)(DX*8), R9")
	g.i("LEAQ (R9)(DX*4), R10")
	g.i("VMOVUPS winoNine<>(SB), %s", w.r(15))
	g.i("VBROADCASTSS winoHalf<>(SB), %s", w.r(14))
	// CX = whole registers of filters, R11 = the last register's (1..lanes).
	g.i("DECQ CX")
	g.i("MOVQ CX, R11")
	g.i("SHRQ $%d, CX", map[int]int{8: 3, 16: 4}[lanes])
	g.i("ANDQ $%d, R11", lanes-1)
	g.i("INCQ R11")
	if w == ymm {
		g.i("VMOVUPS winoOnes<>(SB), Y13")
	} else {
		g.i("MOVL $0xffff, AX")
		g.i("KMOVW AX, K1")
	}
	// gRow emits row i of G applied to the operands t into dst and
	// returns the register that holds it (the operand itself for a row
	// that copies one).
	gRow := func(dst string, i int, operand func(j int) string) string {
		t := terms(winoG[i], operand)
		if len(t) == 1 && !winoGHalf[i] {
			return t[0].src
		}
		src := t[0].src
		if len(t) > 1 {
			g.chain(dst, t)
			src = dst
		}
		if winoGHalf[i] {
			g.i("VMULPS %s, %s, %s", w.r(14), src, dst)
		}
		return dst
	}
	copies := func(i int) bool { return len(terms(winoG[i], w.r)) == 1 && !winoGHalf[i] }
	body := func(tail bool) {
		for k := range 9 {
			mem := fmt.Sprintf("(SI)(%s*4)", w.r(15))
			if k > 0 {
				mem = fmt.Sprintf("%d%s", 4*k, mem)
			}
			if w == ymm {
				g.i("VMOVUPS Y13, Y12")
				g.i("VGATHERDPS Y12, %s, Y%d", mem, k)
			} else {
				g.i("KMOVW K1, K2")
				g.i("VGATHERDPS %s, K2, Z%d", mem, k)
			}
		}
		// tap(j)(k) is the register of g[k][j], tap 3k+j.
		tap := func(j int) func(k int) string {
			return func(k int) string { return w.r(3*k + j) }
		}
		var r [4][3]string // the registers of G g
		rowU := func(i int, tmp string) {
			for c := range winoG {
				src := gRow(tmp, c, func(j int) string { return r[i][j] })
				g.store(w, regNum(src), fmt.Sprintf("(%s)%s", out[i], stride(c, "DX", "R13")), tail, 13, 1)
			}
		}
		var copied, computed []string
		for i := range winoG {
			if copies(i) {
				copied = append(copied, fmt.Sprint(i))
			} else {
				computed = append(computed, fmt.Sprint(i))
			}
		}
		g.i("// U = (G g)Gᵀ, the rows of G: %s", gFormulas("g"))
		g.i("// rows %s of G g are rows of taps: their rows of U first, while every tap is live", strings.Join(copied, ", "))
		pool := []string{w.r(9), w.r(10), w.r(11)}
		for i := range winoG {
			if copies(i) {
				for j := range 3 {
					r[i][j] = gRow("", i, tap(j))
				}
				rowU(i, pool[0])
			}
		}
		g.i("// rows %s of G g column by column (the column's taps are dead after it), then their rows of U", strings.Join(computed, ", "))
		for j := range 3 {
			for i := range winoG {
				if !copies(i) {
					r[i][j] = gRow(pool[0], i, tap(j))
					pool = pool[1:]
				}
			}
			for k := range 3 {
				pool = append(pool, tap(j)(k))
			}
		}
		for i := range winoG {
			if !copies(i) {
				rowU(i, pool[0])
			}
		}
	}
	g.i("TESTQ CX, CX")
	g.i("JZ %stail", l)
	g.p("%sloop:", l)
	body(false)
	g.i("ADDQ $%d, SI", 9*w.bytes)
	for _, r := range out {
		g.i("ADDQ $%d, %s", w.bytes, r)
	}
	g.i("DECQ CX")
	g.i("JNZ %sloop", l)
	g.p("%stail:", l)
	if w == ymm {
		// The mask of R11 lanes: the 8 floats at winoOnes + 4*(8-R11).
		g.i("LEAQ winoOnes<>+32(SB), AX")
		g.i("NEGQ R11")
		g.i("VMOVUPS (AX)(R11*4), Y13")
	} else {
		g.i("MOVQ R11, CX")
		g.i("MOVL $1, AX")
		g.i("SHLL CX, AX")
		g.i("DECL AX")
		g.i("KMOVW AX, K1")
	}
	body(true)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// gFormulas renders the rows of G as text (x0, (x0+x1+x2)/2, ...) for the
// comments.
func gFormulas(x string) string {
	var f []string
	for i, row := range winoG {
		s := formula(row, x)
		if winoGHalf[i] {
			s = "(" + s + ")/2"
		}
		f = append(f, s)
	}
	return strings.Join(f, ", ")
}

// regNum is the number of register name r (Y12 -> 12).
func regNum(r string) int {
	var n int
	if _, err := fmt.Sscanf(r[1:], "%d", &n); err != nil {
		panic("gen: not a vector register: " + r)
	}
	return n
}
