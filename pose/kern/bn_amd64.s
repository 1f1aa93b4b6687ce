//go:build amd64 && !purego

#include "textflag.h"

// func affineAVX2(x, y *float32, n int, m, sc, sh float32, relu bool)
// y = (x-m)*sc + sh, then max(·, 0) if relu. n is a multiple of 8.
TEXT ·affineAVX2(SB), NOSPLIT, $0-37
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y1
	VBROADCASTSS sc+28(FP), Y2
	VBROADCASTSS sh+32(FP), Y3
	MOVBLZX relu+36(FP), AX
	VXORPS Y4, Y4, Y4
	SHRQ $3, CX
	JZ affdone
	TESTQ AX, AX
	JNZ affrelu

affloop:
	VMOVUPS (SI), Y0
	VSUBPS Y1, Y0, Y0
	VFMADD213PS Y3, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ affloop
	JMP affdone

affrelu:
	VMOVUPS (SI), Y0
	VSUBPS Y1, Y0, Y0
	VFMADD213PS Y3, Y2, Y0
	VMAXPS Y0, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ affrelu

affdone:
	VZEROUPPER
	RET

// func affineAddReLUAVX2(x, r, y *float32, n int, m, sc, sh float32)
// y = max((x-m)*sc + sh + r, 0). n is a multiple of 8.
TEXT ·affineAddReLUAVX2(SB), NOSPLIT, $0-44
	MOVQ x+0(FP), SI
	MOVQ r+8(FP), BX
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSS m+32(FP), Y1
	VBROADCASTSS sc+36(FP), Y2
	VBROADCASTSS sh+40(FP), Y3
	VXORPS Y4, Y4, Y4
	SHRQ $3, CX
	JZ aardone

aarloop:
	VMOVUPS (SI), Y0
	VSUBPS Y1, Y0, Y0
	VFMADD213PS Y3, Y2, Y0
	VADDPS (BX), Y0, Y0
	VMAXPS Y0, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ aarloop

aardone:
	VZEROUPPER
	RET

// func sumsAVX2(x *float32, n int, shift float64) (s1, s2 float64)
// s1 = Σ(x-shift), s2 = Σ(x-shift)² in float64. n is a multiple of 8.
TEXT ·sumsAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD shift+16(FP), Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	SHRQ $3, CX
	JZ sumdone

sumloop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y6
	VSUBPD Y1, Y0, Y0
	VSUBPD Y1, Y6, Y6
	VADDPD Y0, Y2, Y2
	VADDPD Y6, Y3, Y3
	VFMADD231PD Y0, Y0, Y4
	VFMADD231PD Y6, Y6, Y5
	ADDQ $32, SI
	DECQ CX
	JNZ sumloop

sumdone:
	VADDPD Y3, Y2, Y2
	VADDPD Y5, Y4, Y4
	VEXTRACTF128 $1, Y2, X3
	VADDPD X3, X2, X2
	VHADDPD X2, X2, X2
	VEXTRACTF128 $1, Y4, X5
	VADDPD X5, X4, X4
	VHADDPD X4, X4, X4
	VMOVSD X2, s1+24(FP)
	VMOVSD X4, s2+32(FP)
	VZEROUPPER
	RET

// func gradSumsAVX2(x, y, dy *float32, n int, mu float64) (sg, sgx float64)
// g = dy (zero where y <= 0 when y != nil); sg = Σg, sgx = Σg*(x-mu) in
// float64. n is a multiple of 8.
TEXT ·gradSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), BX
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSD mu+32(FP), Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPS Y7, Y7, Y7
	SHRQ $3, CX
	JZ gsdone

gsloop:
	VMOVUPS (DX), Y0
	TESTQ BX, BX
	JZ gsnomask
	VMOVUPS (BX), Y6
	VCMPPS $14, Y7, Y6, Y6
	VANDPS Y6, Y0, Y0
	ADDQ $32, BX

gsnomask:
	VCVTPS2PD X0, Y8
	VEXTRACTF128 $1, Y0, X9
	VCVTPS2PD X9, Y9
	VCVTPS2PD (SI), Y10
	VCVTPS2PD 16(SI), Y11
	VSUBPD Y1, Y10, Y10
	VSUBPD Y1, Y11, Y11
	VADDPD Y8, Y2, Y2
	VADDPD Y9, Y3, Y3
	VFMADD231PD Y10, Y8, Y4
	VFMADD231PD Y11, Y9, Y5
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ CX
	JNZ gsloop

gsdone:
	VADDPD Y3, Y2, Y2
	VADDPD Y5, Y4, Y4
	VEXTRACTF128 $1, Y2, X3
	VADDPD X3, X2, X2
	VHADDPD X2, X2, X2
	VEXTRACTF128 $1, Y4, X5
	VADDPD X5, X4, X4
	VHADDPD X4, X4, X4
	VMOVSD X2, sg+40(FP)
	VMOVSD X4, sgx+48(FP)
	VZEROUPPER
	RET

// func bnDxAVX2(x, y, dy, dx *float32, n int, a, b, c0, mu float32)
// dx = a*g + b*(x-mu) + c0 with g = dy (zero where y <= 0 when y != nil).
// n is a multiple of 8; dx may alias dy.
TEXT ·bnDxAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), BX
	MOVQ dy+16(FP), DX
	MOVQ dx+24(FP), DI
	MOVQ n+32(FP), CX
	VBROADCASTSS a+40(FP), Y1
	VBROADCASTSS b+44(FP), Y2
	VBROADCASTSS c0+48(FP), Y3
	VBROADCASTSS mu+52(FP), Y4
	VXORPS Y7, Y7, Y7
	SHRQ $3, CX
	JZ dxdone

dxloop:
	VMOVUPS (DX), Y0
	TESTQ BX, BX
	JZ dxnomask
	VMOVUPS (BX), Y6
	VCMPPS $14, Y7, Y6, Y6
	VANDPS Y6, Y0, Y0
	ADDQ $32, BX

dxnomask:
	VMOVUPS (SI), Y5
	VSUBPS Y4, Y5, Y5
	VMULPS Y1, Y0, Y0
	VFMADD231PS Y2, Y5, Y0
	VADDPS Y3, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ dxloop

dxdone:
	VZEROUPPER
	RET

// func reluBackwardAVX2(y, dy, dx *float32, n int)
// dx = dy where y > 0, else 0. n is a multiple of 8; dx may alias dy.
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), BX
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	VXORPS Y7, Y7, Y7
	SHRQ $3, CX
	JZ rbdone

rbloop:
	VMOVUPS (BX), Y6
	VCMPPS $14, Y7, Y6, Y6
	VANDPS (DX), Y6, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, BX
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ rbloop

rbdone:
	VZEROUPPER
	RET

// func addAVX2(a, b, y *float32, n int, relu bool)
// y = a + b, then max(·, 0) if relu. n is a multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-33
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), BX
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	MOVBLZX relu+32(FP), AX
	VXORPS Y4, Y4, Y4
	SHRQ $3, CX
	JZ adddone
	TESTQ AX, AX
	JNZ addrelu

addloop:
	VMOVUPS (SI), Y0
	VADDPS (BX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ addloop
	JMP adddone

addrelu:
	VMOVUPS (SI), Y0
	VADDPS (BX), Y0, Y0
	VMAXPS Y0, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ addrelu

adddone:
	VZEROUPPER
	RET
