package simd_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/simd"
	"github.com/bsampose/bsampose/pose/kern"
)

const sentinel = 12345.5

type gemmCase struct {
	name                 string
	m, n, k, ldb, ldc    int
	relu, bias, scratch  bool
	a, b, biasV, c, want []float32
}

func newCase(r *rand.Rand, name string, m, n, k, ldb, ldc int, relu, bias bool) *gemmCase {
	tc := &gemmCase{name: name, m: m, n: n, k: k, ldb: ldb, ldc: ldc, relu: relu, bias: bias, scratch: true}
	w := make([]float32, m*k)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	tc.a = w
	tc.b = make([]float32, k*ldb)
	for i := range tc.b {
		tc.b[i] = float32(r.NormFloat64())
	}
	tc.biasV = make([]float32, (m+3)&^3)
	for i := range m {
		tc.biasV[i] = float32(r.NormFloat64())
	}
	tc.c = make([]float32, m*ldc+4*ldc) // rows past m must stay untouched too
	for i := range tc.c {
		tc.c[i] = sentinel
	}
	tc.want = append([]float32(nil), tc.c...)
	var bv []float32
	if bias {
		bv = tc.biasV
	}
	infer.PanelGemm(m, 0, n, k, tc.a, tc.b, ldb, tc.want, ldc, bv, relu)
	return tc
}

// TestModuleValid checks the header bytes and that node accepts the module.
func TestModuleValid(t *testing.T) {
	m := simd.Module()
	if !bytes.HasPrefix(m, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatalf("bad header % x", m[:8])
	}
	if simd.PanelRows != infer.PanelRows {
		t.Fatalf("simd.PanelRows = %d, infer.PanelRows = %d", simd.PanelRows, infer.PanelRows)
	}
	if bytes.Equal(m, simd.ModuleRelaxed()) {
		t.Errorf("relaxed module: %d bytes, plain %d", len(simd.ModuleRelaxed()), len(m))
	}
	if len(m) > 4096 {
		t.Errorf("module is %d bytes, want a tiny one", len(m))
	}
	if !bytes.Equal(m, simd.Module()) {
		t.Error("Module is not deterministic")
	}
}

// TestSgemmNode runs the module under node on a set of shapes (including
// the posenet-s layer shapes) and compares with infer.PanelGemm, the
// scalar reference (bit for bit for SIMD128, within rounding for the
// relaxed FMA variant); cells outside the m×n result must stay untouched.
func TestSgemmNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	cases := []*gemmCase{
		newCase(r, "m4_n8_k1", 4, 8, 1, 8, 8, false, false),
		newCase(r, "m3_n8_k5_relu", 3, 8, 5, 8, 8, true, false),
		newCase(r, "m17_n16_k64_strided", 17, 16, 64, 20, 24, true, true),
		newCase(r, "m6_n40_k9_bias", 6, 40, 9, 40, 40, false, true),
		newCase(r, "posenet_layer1_m64_n768_k576", 64, 768, 576, 768, 768, true, true),
		newCase(r, "posenet_final_m17_n768_k64", 17, 768, 64, 768, 768, false, true),
		newCase(r, "posenet_head1_m64_n768_k1152", 64, 768, 1152, 768, 768, true, true),
		newCase(r, "posenet_stem_m32_n3072_k27_odd", 32, 3072, 27, 3072, 3072, true, true),
		newCase(r, "m5_n24_k2_strided", 5, 24, 2, 30, 27, false, true),
		newCase(r, "posenet_layer3_m256_n48_k2304", 256, 48, 2304, 48, 48, true, true),
	}
	dir := t.TempDir()
	var in bytes.Buffer
	w32 := func(v ...int) {
		for _, x := range v {
			binary.Write(&in, binary.LittleEndian, int32(x))
		}
	}
	w32(len(cases))
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for _, tc := range cases {
		w32(tc.m, tc.n, tc.k, tc.ldb, tc.ldc, b2i(tc.relu), b2i(tc.bias), b2i(tc.scratch), len(tc.a), len(tc.b), len(tc.biasV), len(tc.c))
		for _, s := range [][]float32{tc.a, tc.b, tc.biasV, tc.c} {
			binary.Write(&in, binary.LittleEndian, s)
		}
	}
	inPath := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(inPath, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []struct {
		name  string
		bytes []byte
		flags []string
		tol   float64
	}{
		{"simd128", simd.Module(), nil, 0},
		// FMA may change the last bits
		{"relaxed", simd.ModuleRelaxed(), []string{"--experimental-wasm-relaxed-simd"}, 1e-5},
	} {
		t.Run(mod.name, func(t *testing.T) {
			path, outPath := filepath.Join(dir, mod.name+".wasm"), filepath.Join(dir, mod.name+".out")
			if err := os.WriteFile(path, mod.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			args := append(mod.flags, filepath.Join("testdata", "run_sgemm.js"), path, inPath, outPath)
			if out, err := exec.Command(node, args...).CombinedOutput(); err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				got := make([]float32, len(tc.c))
				if len(raw) < 4*len(got) {
					t.Fatalf("output too short")
				}
				binary.Read(bytes.NewReader(raw[:4*len(got)]), binary.LittleEndian, got)
				raw = raw[4*len(got):]
				var maxd float64
				for i := range got {
					if tc.want[i] == sentinel {
						if got[i] != sentinel {
							t.Fatalf("%s: c[%d] (row %d col %d) written: %v", tc.name, i, i/tc.ldc, i%tc.ldc, got[i])
						}
						continue
					}
					// relative to the magnitude of the dot product's terms
					d := math.Abs(float64(got[i]-tc.want[i])) / (1 + math.Sqrt(float64(tc.k)))
					maxd = max(maxd, d)
				}
				if maxd > mod.tol {
					t.Errorf("%s: max scaled difference %g > %g", tc.name, maxd, mod.tol)
				}
			}
		})
	}
}

// TestIm2colNode runs the module's im2col under node and compares it
// with infer.Im2col, including the four floats after the output (which
// must stay untouched).
func TestIm2colNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	convs := []kern.Conv{
		{InC: 3, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 128, InW: 96},
		{InC: 64, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 32, InW: 24},
		{InC: 3, KH: 7, KW: 7, Stride: 2, Pad: 3, InH: 13, InW: 10},
		{InC: 8, KH: 1, KW: 1, Stride: 2, Pad: 0, InH: 8, InW: 6},
		{InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 1, InW: 2},
		{InC: 4, KH: 3, KW: 3, Stride: 3, Pad: 2, InH: 7, InW: 5},
	}
	r := rand.New(rand.NewPCG(5, 6))
	var in bytes.Buffer
	w32 := func(v ...int) {
		for _, x := range v {
			binary.Write(&in, binary.LittleEndian, int32(x))
		}
	}
	w32(len(convs))
	var wants [][]float32
	for _, cv := range convs {
		cv.OutC = 1
		x := make([]float32, cv.InC*cv.InH*cv.InW)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		col := make([]float32, cv.InC*cv.KH*cv.KW*cv.OutH()*cv.OutW())
		infer.Im2col(cv, x, col)
		wants = append(wants, append(col, sentinel, sentinel, sentinel, sentinel))
		w32(cv.InC, cv.InH, cv.InW, cv.KH, cv.Stride, cv.Pad, cv.OutH(), cv.OutW(), len(x), len(col))
		binary.Write(&in, binary.LittleEndian, x)
	}
	dir := t.TempDir()
	mod, inPath, outPath := filepath.Join(dir, "simd.wasm"), filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin")
	os.WriteFile(mod, simd.Module(), 0o644)
	os.WriteFile(inPath, in.Bytes(), 0o644)
	if out, err := exec.Command(node, filepath.Join("testdata", "run_im2col.js"), mod, inPath, outPath).CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range wants {
		got := make([]float32, len(want))
		if len(raw) < 4*len(got) {
			t.Fatal("output too short")
		}
		binary.Read(bytes.NewReader(raw[:4*len(got)]), binary.LittleEndian, got)
		raw = raw[4*len(got):]
		for j := range got {
			if got[j] != want[j] {
				t.Errorf("conv %+v: col[%d] = %v, want %v", convs[i], j, got[j], want[j])
				break
			}
		}
	}
}

// ExampleModule shows what the browser loader fetches: a module of about
// a kilobyte whose first bytes are the WebAssembly header.
func ExampleModule() {
	m := simd.Module()
	fmt.Printf("% x, under 2 KB: %v, imported as %s.%s and %s.%s\n", m[:8], len(m) < 2048,
		simd.ModuleName, simd.FuncName, simd.ModuleName, simd.UnrollName)
	// Output: 00 61 73 6d 01 00 00 00, under 2 KB: true, imported as bsampose_simd.sgemm and bsampose_simd.im2col
}
