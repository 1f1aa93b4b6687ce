package main

import "strings"

// transpose8 emits one 8×8 transpose of the transpose16AVX2 loop: eight
// rows of 8 floats loaded from R8, R8+DX, ... (R8 left after the last
// row), then column c stored at c*64+off bytes from DI (off 0 for rows
// 0-7 of the 16-row panel, 32 for rows 8-15). Three shuffle stages: the
// unpacks interleave row pairs, the shuffles build 4-float column
// pieces within each 128-bit lane, the lane permutes join the lanes.
func (g *gen) transpose8(off int) {
	for r := range 8 {
		g.i("VMOVUPS (R8), Y%d", r)
		g.i("ADDQ DX, R8")
	}
	for k := 0; k < 8; k += 2 {
		g.i("VUNPCKLPS Y%d, Y%d, Y%d", k+1, k, 8+k)
		g.i("VUNPCKHPS Y%d, Y%d, Y%d", k+1, k, 9+k)
	}
	for q := range 2 {
		b := 8 + 4*q
		for h := range 2 {
			g.i("VSHUFPS $0x44, Y%d, Y%d, Y%d", b+2+h, b+h, 4*q+2*h)
			g.i("VSHUFPS $0xEE, Y%d, Y%d, Y%d", b+2+h, b+h, 4*q+2*h+1)
		}
	}
	for k := range 4 {
		g.i("VPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+k, k, 8+k)
		g.i("VPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+k, k, 12+k)
	}
	for c := range 8 {
		g.i("VMOVUPS Y%d, %d(DI)", 8+c, 64*c+off)
	}
}

func packFile() string {
	g := &gen{}
	g.buf.WriteString(header)
	g.p("// func transpose16AVX2(pan, b *float32, ldb, kb int)")
	g.p("// Transposes 16 rows of kb floats (row j at b + j*ldb) into the k-major")
	g.p("// panel pan (kb groups of 16): pan[p*16+j] = row_j[p]. kb is a multiple")
	g.p("// of 8. Two 8×8 transposes (rows 0-7, rows 8-15) per 8 columns.")
	g.p("TEXT ·transpose16AVX2(SB), NOSPLIT, $0-32")
	g.i("MOVQ pan+0(FP), DI")
	g.i("MOVQ b+8(FP), SI")
	g.i("MOVQ ldb+16(FP), DX")
	g.i("SHLQ $2, DX")
	g.i("MOVQ kb+24(FP), CX")
	g.i("SHRQ $3, CX")
	g.i("JZ trdone")
	g.p("")
	g.p("trloop:")
	g.i("MOVQ SI, R8")
	g.transpose8(0)
	g.transpose8(32)
	g.i("ADDQ $32, SI")
	g.i("ADDQ $512, DI")
	g.i("DECQ CX")
	g.i("JNZ trloop")
	g.p("")
	g.p("trdone:")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
	g.p("// func scatter16AVX2(dst, src *float32, blocks, dstride int)")
	g.p("// Copies blocks consecutive 16-float blocks of src to dst, dst+dstride,")
	g.p("// dst+2*dstride, ... (dstride in floats).")
	g.p("TEXT ·scatter16AVX2(SB), NOSPLIT, $0-32")
	g.i("MOVQ dst+0(FP), DI")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ blocks+16(FP), CX")
	g.i("MOVQ dstride+24(FP), DX")
	g.i("SHLQ $2, DX")
	g.i("TESTQ CX, CX")
	g.i("JZ scdone")
	g.p("")
	g.p("scloop:")
	g.i("VMOVUPS (SI), Y0")
	g.i("VMOVUPS 32(SI), Y1")
	g.i("VMOVUPS Y0, (DI)")
	g.i("VMOVUPS Y1, 32(DI)")
	g.i("ADDQ $64, SI")
	g.i("ADDQ DX, DI")
	g.i("DECQ CX")
	g.i("JNZ scloop")
	g.p("")
	g.p("scdone:")
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
	g.p("// func interleave2AVX2(d, a, b *float32, blocks int)")
	g.p("// Sets d[2t] = a[t], d[2t+1] = b[t] for t < 8*blocks: the unpacks")
	g.p("// interleave within each 128-bit lane, the lane permutes join them.")
	g.p("TEXT ·interleave2AVX2(SB), NOSPLIT, $0-32")
	g.i("MOVQ d+0(FP), DI")
	g.i("MOVQ a+8(FP), SI")
	g.i("MOVQ b+16(FP), DX")
	g.i("MOVQ blocks+24(FP), CX")
	g.i("TESTQ CX, CX")
	g.i("JZ ildone")
	g.p("")
	g.p("illoop:")
	g.i("VMOVUPS (SI), Y0")
	g.i("VMOVUPS (DX), Y1")
	g.i("VUNPCKLPS Y1, Y0, Y2")
	g.i("VUNPCKHPS Y1, Y0, Y3")
	g.i("VPERM2F128 $0x20, Y3, Y2, Y4")
	g.i("VPERM2F128 $0x31, Y3, Y2, Y5")
	g.i("VMOVUPS Y4, (DI)")
	g.i("VMOVUPS Y5, 32(DI)")
	g.i("ADDQ $32, SI")
	g.i("ADDQ $32, DX")
	g.i("ADDQ $64, DI")
	g.i("DECQ CX")
	g.i("JNZ illoop")
	g.p("")
	g.p("ildone:")
	g.i("VZEROUPPER")
	g.i("RET")
	return g.buf.String()
}

// vexOnly reports the lines of an AVX2 file that would need EVEX: zmm,
// opmask or the upper sixteen vector registers, or an instruction
// outside the VEX and legacy set the AVX2 files use.
func vexOnly(text string) []string {
	allowed := map[string]bool{}
	for _, m := range strings.Fields(`MOVQ MOVBLZX LEAQ SHLQ SHRQ ANDQ ADDQ XORQ
		CMPQ TESTQ DECQ JZ JNZ JEQ RET PREFETCHT0 VZEROUPPER VMOVUPS VXORPS
		VADDPS VSUBPS VFMADD231PS VBROADCASTSS VUNPCKLPS VUNPCKHPS VSHUFPS
		VPERM2F128 VMULPS VMAXPS VMASKMOVPS NEGQ SUBQ CMOVQLT JMP INCQ VPERMPD VGATHERDPS`) {
		allowed[m] = true
	}
	var bad []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "\t//") {
			continue
		}
		f := strings.FieldsFunc(line, func(r rune) bool {
			return strings.ContainsRune(" \t,()*$", r)
		})
		if len(f) == 0 {
			continue
		}
		ok := allowed[f[0]] && !strings.ContainsAny(line, "{}.")
		for _, op := range f[1:] {
			if evexReg(op) {
				ok = false
			}
		}
		if !ok {
			bad = append(bad, line)
		}
	}
	return bad
}

// evexReg reports whether op names a zmm or opmask register or one of
// X16-X31 / Y16-Y31.
func evexReg(op string) bool {
	if len(op) < 2 {
		return false
	}
	n := 0
	for _, c := range op[1:] {
		if c < '0' || c > '9' {
			return false
		}
		n = 10*n + int(c-'0')
	}
	switch op[0] {
	case 'Z', 'K':
		return true
	case 'X', 'Y':
		return n >= 16
	}
	return false
}
