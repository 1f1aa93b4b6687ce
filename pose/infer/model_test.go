package infer_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/kern"
)

func testMeta(preset string, h, w, k int) infer.Meta {
	m := infer.Meta{
		Preset: preset, InputH: h, InputW: w, Joints: k,
		Codec: heatmap.NewMSRA(w, h),
		Mean:  [3]float32{0.485, 0.456, 0.406},
		Std:   [3]float32{0.229, 0.224, 0.225},
	}
	if k >= 3 {
		m.FlipPairs = [][2]int{{0, 1}}
		m.Skeleton = [][2]int{{0, 1}, {1, 2}}
	}
	return m
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// directConv is the textbook convolution, in float64.
func directConv(cv kern.Conv, x, w, bias []float32, relu bool) []float32 {
	oh, ow := cv.OutH(), cv.OutW()
	y := make([]float32, cv.OutC*oh*ow)
	for o := range cv.OutC {
		for oy := range oh {
			for ox := range ow {
				s := float64(bias[o])
				for c := range cv.InC {
					for ky := range cv.KH {
						for kx := range cv.KW {
							iy, ix := oy*cv.Stride-cv.Pad+ky, ox*cv.Stride-cv.Pad+kx
							if iy < 0 || iy >= cv.InH || ix < 0 || ix >= cv.InW {
								continue
							}
							s += float64(w[((o*cv.InC+c)*cv.KH+ky)*cv.KW+kx]) * float64(x[(c*cv.InH+iy)*cv.InW+ix])
						}
					}
				}
				if relu && s < 0 {
					s = 0
				}
				y[(o*oh+oy)*ow+ox] = float32(s)
			}
		}
	}
	return y
}

// TestConvKernels: im2col + every kernel's GEMM (with bias and ReLU)
// equals the direct convolution for strided, padded, 1x1 and 7x7 shapes.
func TestConvKernels(t *testing.T) {
	tests := []struct {
		name string
		cv   kern.Conv
		relu bool
	}{
		{"3x3_s1_p1", kern.Conv{InC: 5, OutC: 6, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 9, InW: 11}, true},
		{"3x3_s2_p1", kern.Conv{InC: 3, OutC: 32, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 16, InW: 12}, true},
		{"7x7_s2_p3", kern.Conv{InC: 3, OutC: 9, KH: 7, KW: 7, Stride: 2, Pad: 3, InH: 13, InW: 10}, false},
		{"1x1_s2", kern.Conv{InC: 8, OutC: 17, KH: 1, KW: 1, Stride: 2, Pad: 0, InH: 8, InW: 6}, false},
		{"1x1_s1_direct", kern.Conv{InC: 8, OutC: 17, KH: 1, KW: 1, Stride: 1, Pad: 0, InH: 4, InW: 6}, false},
		{"3x3_s1_p1_tiny", kern.Conv{InC: 2, OutC: 1, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 1, InW: 2}, true},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, tt := range tests {
		cv := tt.cv
		x := randSlice(r, cv.InC*cv.InH*cv.InW)
		kk := cv.InC * cv.KH * cv.KW
		w := randSlice(r, cv.OutC*kk)
		bias := make([]float32, cv.OutC, (cv.OutC+3)&^3)
		copy(bias, randSlice(r, cv.OutC))
		want := directConv(cv, x, w, bias, tt.relu)
		n := cv.OutH() * cv.OutW()
		b := x
		if !(cv.KH == 1 && cv.Stride == 1) {
			b = make([]float32, kk*n)
			infer.Im2col(cv, x, b)
		}
		for _, k := range []infer.Kernel{infer.GoKernel{}, infer.PanelKernel{}} {
			t.Run(tt.name+"/"+k.Name(), func(t *testing.T) {
				got := make([]float32, len(want))
				k.Gemm(cv.OutC, n, kk, k.Pack(w, cv.OutC, kk), b, n, got, n, bias, tt.relu)
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("y[%d] = %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestKernelsAgree: the whole network gives the same heatmaps on both
// kernels (the browser's PanelKernel and kern.Sgemm), for every preset.
func TestKernelsAgree(t *testing.T) {
	for _, tt := range []struct {
		preset string
		h, w   int
	}{{infer.PresetPoseNetS, 64, 64}, {infer.PresetResNet18, 64, 32}, {infer.PresetResNet50, 32, 32}} {
		t.Run(tt.preset, func(t *testing.T) {
			if testing.Short() && tt.preset != infer.PresetPoseNetS {
				t.Skip("short")
			}
			md, err := infer.RandomModel(testMeta(tt.preset, tt.h, tt.w, 5), 1)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice(rand.New(rand.NewPCG(5, 6)), 2*3*tt.h*tt.w)
			a, err := md.Forward(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			a = append([]float32(nil), a...)
			md.SetKernel(infer.PanelKernel{})
			b, err := md.Forward(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			var d, mag float64
			for i := range a {
				d = max(d, math.Abs(float64(a[i]-b[i])))
				mag = max(mag, math.Abs(float64(a[i])))
			}
			if d > 1e-4*max(1, mag) || mag == 0 {
				t.Errorf("max difference %g (max output %g)", d, mag)
			}
		})
	}
}

// TestForwardNoAlloc: after the first call, Forward allocates nothing of
// its own (checked on the pure-Go panel kernel; GoKernel's count is
// kern.Sgemm's business: its parallel split allocates closures).
func TestForwardNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are unreliable under the race detector")
	}
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 64, 32, 3), 2)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*3*64*32)
	for _, k := range []infer.Kernel{infer.PanelKernel{}, infer.GoKernel{}} {
		md.SetKernel(k)
		if _, err := md.Forward(x, 2); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		a := testing.AllocsPerRun(3, func() { md.Forward(x, 2) })
		t.Logf("%s kernel: %v allocations per Forward", k.Name(), a)
		if _, ok := k.(infer.PanelKernel); ok && a != 0 {
			t.Errorf("%s kernel: Forward allocates %v times per call", k.Name(), a)
		}
	}
}

// TestClone: a clone computes the same heatmaps, and switching its kernel
// leaves the original alone.
func TestClone(t *testing.T) {
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 32, 32, 3), 9)
	if err != nil {
		t.Fatal(err)
	}
	x := randSlice(rand.New(rand.NewPCG(2, 3)), 3*32*32)
	want, _ := md.Forward(x, 1)
	want = append([]float32(nil), want...)
	c := md.Clone()
	c.SetKernel(infer.PanelKernel{})
	got, _ := c.Forward(x, 1)
	again, _ := md.Forward(x, 1)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 || again[i] != want[i] {
			t.Fatalf("heatmap %d: original %v, clone %v, original again %v", i, want[i], got[i], again[i])
		}
	}
	if md.Kernel().Name() != "go" || c.Kernel().Name() != "panel" {
		t.Errorf("kernels %s and %s", md.Kernel().Name(), c.Kernel().Name())
	}
}

func TestForwardErrors(t *testing.T) {
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 32, 32, 2), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		n, m int
	}{{"zero_images", 0, 0}, {"short", 3*32*32 - 1, 1}, {"batch_mismatch", 3 * 32 * 32, 2}} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := md.Forward(make([]float32, tt.n), tt.m); err == nil || !strings.HasPrefix(err.Error(), "infer: ") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestFromTensorsErrors(t *testing.T) {
	meta := testMeta(infer.PresetPoseNetS, 32, 32, 2)
	for _, tt := range []struct {
		name   string
		meta   func(*infer.Meta)
		tensor map[string][]float32
		shapes map[string][]int
		want   string
	}{
		{"unknown_preset", func(m *infer.Meta) { m.Preset = "vgg" }, nil, nil, "unknown preset"},
		{"input_not_32", func(m *infer.Meta) { m.InputH = 40 }, nil, nil, "multiples of 32"},
		{"codec_mismatch", func(m *infer.Meta) { m.Codec.W = 7 }, nil, nil, "codec"},
		{"missing", func(*infer.Meta) {}, nil, nil, `missing tensor "stem.conv.weight"`},
		{"shape", func(*infer.Meta) {}, map[string][]float32{"stem.conv.weight": make([]float32, 864)},
			map[string][]int{"stem.conv.weight": {32, 3, 9}}, "has shape [32 3 9], want [32 3 3 3]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := meta
			tt.meta(&m)
			_, err := infer.FromTensors(m, tt.tensor, tt.shapes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if tt.name == "missing" && !errors.Is(err, infer.ErrMissingTensor) {
				t.Errorf("err %v is not ErrMissingTensor", err)
			}
		})
	}
}

func encoded(t testing.TB, md *infer.Model) []byte {
	var buf bytes.Buffer
	if err := infer.Encode(&buf, md); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEncodeDecode: a decoded model file computes exactly what the
// original model does and keeps the metadata.
func TestEncodeDecode(t *testing.T) {
	meta := testMeta(infer.PresetResNet18, 32, 32, 3)
	meta.Names = []string{"a", "b", "c"}
	md, err := infer.RandomModel(meta, 4)
	if err != nil {
		t.Fatal(err)
	}
	data := encoded(t, md)
	if want := 4 * md.NumParams(); len(data) < want || len(data) > want+8192 {
		t.Errorf("file of %d bytes for %d parameters", len(data), md.NumParams())
	}
	md2, err := infer.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 3*32*32)
	a, _ := md.Forward(x, 1)
	b, _ := md2.Forward(x, 1)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("decoded model computes different heatmaps")
	}
	if fmt.Sprint(md2.Meta) != fmt.Sprint(md.Meta) {
		t.Errorf("meta %+v, want %+v", md2.Meta, md.Meta)
	}
}

// TestDecodeInPlace: DecodeInPlace computes what Decode computes; its
// float32 weights alias the file's bytes (changing them changes the
// output, while Decode's copy is unaffected), unless the bytes are
// misaligned, when they are copied; int8 weights are always expanded.
func TestDecodeInPlace(t *testing.T) {
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 32, 32, 3), 6)
	if err != nil {
		t.Fatal(err)
	}
	x := randSlice(rand.New(rand.NewPCG(2, 2)), 3*32*32)
	want, _ := md.Forward(x, 1)
	want = append([]float32(nil), want...)
	heatmaps := func(m *infer.Model) string {
		y, err := m.Forward(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(y)
	}
	var q8 bytes.Buffer
	if err := infer.EncodeWith(&q8, md, infer.EncodeOptions{Int8: true}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		data    func() []byte
		aliased bool
	}{
		{"aligned", func() []byte { return encoded(t, md) }, true},
		{"misaligned", func() []byte {
			b := encoded(t, md)
			buf := make([]byte, len(b)+1)
			copy(buf[1:], b)
			return buf[1:]
		}, false},
		{"int8", func() []byte { return append([]byte(nil), q8.Bytes()...) }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data()
			in, err := infer.DecodeInPlace(data)
			if err != nil {
				t.Fatal(err)
			}
			copied, err := infer.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			before := heatmaps(in)
			if tt.name != "int8" && before != fmt.Sprint(want) {
				t.Fatal("DecodeInPlace computes different heatmaps")
			}
			if before != heatmaps(copied) {
				t.Fatal("DecodeInPlace and Decode disagree")
			}
			// Scale every weight byte pattern: flip the sign bit of the
			// last 4 bytes of each 4-byte word past the header.
			hlen := int(binary.LittleEndian.Uint32(data[12:]))
			for i := 16 + hlen + 3; i < len(data); i += 4 {
				data[i] ^= 0x80
			}
			if changed := heatmaps(in) != before; changed != tt.aliased {
				t.Errorf("output changed with the file bytes: %v, want %v", changed, tt.aliased)
			}
			if heatmaps(copied) != before {
				t.Error("Decode's model changed with the file bytes")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 32, 32, 2), 5)
	if err != nil {
		t.Fatal(err)
	}
	good := encoded(t, md)
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tt := range []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"empty", nil, infer.ErrTruncated, ""},
		{"magic_prefix", []byte("BSAM"), infer.ErrTruncated, ""},
		{"bad_magic", []byte("GIF89a.........."), infer.ErrBadMagic, ""},
		{"no_length", good[:10], infer.ErrTruncated, ""},
		{"version", with(func(b []byte) []byte { b[8] = 9; return b }), infer.ErrVersion, ""},
		{"header_cut", good[:16+hlen/2], infer.ErrTruncated, ""},
		{"data_cut", good[:len(good)-4], infer.ErrTruncated, ""},
		{"bad_json", with(func(b []byte) []byte { b[16] = '['; return b }), nil, "header"},
		{"bad_dtype", with(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"dtype":"f32"`), []byte(`"dtype":"f64"`), 1)
		}), nil, `dtype "f64"`},
		{"renamed_tensor", with(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"stem.conv.weight"`), []byte(`"stem.conv.weighx"`), 1)
		}), infer.ErrMissingTensor, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := infer.Decode(tt.data)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "infer: ") {
				t.Errorf("err = %v, want infer: ...%s", err, tt.want)
			}
		})
	}
}

// fileOf assembles a model file from a header value and data bytes.
func fileOf(hdr any, data []byte) []byte {
	hj, _ := json.Marshal(hdr)
	var b bytes.Buffer
	b.WriteString(infer.Magic)
	binary.Write(&b, binary.LittleEndian, [2]uint32{infer.FormatVersion, uint32(len(hj))})
	b.Write(hj)
	b.Write(data)
	return b.Bytes()
}

// FuzzDecodeModel: Decode never panics, DecodeInPlace accepts the same
// files, and what they accept runs.
func FuzzDecodeModel(f *testing.F) {
	meta := testMeta(infer.PresetPoseNetS, 32, 32, 1)
	type entry struct {
		Name        string `json:"name"`
		Shape       []int  `json:"shape"`
		DType       string `json:"dtype"`
		Offset      int    `json:"offset"`
		ScaleOffset int    `json:"scale_offset,omitempty"`
	}
	hdr := func(es ...entry) any { return map[string]any{"meta": meta, "tensors": es} }
	data := make([]byte, 64*4)
	for i := range 64 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)/64))
	}
	f.Add(fileOf(hdr(entry{"stem.conv.weight", []int{32, 3, 3, 3}, "f32", 0, 0}), data))
	f.Add(fileOf(hdr(entry{"stem.conv.bias", []int{32}, "f32", 0, 0}, entry{"stem.conv.weight", []int{2, 3, 3, 3}, "i8", 128, 0}), data))
	f.Add(fileOf(hdr(entry{"head.final.weight", []int{1, 64, 1, 1}, "i8", 0, 64}, entry{"head.final.bias", []int{1}, "f32", 4, 0}), data))
	f.Add(fileOf(map[string]any{}, nil))
	f.Add([]byte("BSAMPOSE\x01\x00\x00\x00\xff\xff\xff\xff{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := infer.Decode(data)
		if _, err2 := infer.DecodeInPlace(data); (err == nil) != (err2 == nil) {
			t.Fatalf("Decode error %v, DecodeInPlace error %v", err, err2)
		}
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "infer: ") {
				t.Fatalf("model %v with error %v", m, err)
			}
			return
		}
		if m.Meta.InputH*m.Meta.InputW > 256*256 {
			return // valid, but too big to run here
		}
		k, h, w := m.OutputShape()
		out, err := m.Forward(make([]float32, 3*m.Meta.InputH*m.Meta.InputW), 1)
		if err != nil || len(out) != k*h*w {
			t.Fatalf("accepted model fails: %v", err)
		}
	})
}

// Example encodes a model to the compact file format and runs the decoded
// copy.
func Example() {
	meta := infer.Meta{
		Preset: infer.PresetPoseNetS, InputH: 128, InputW: 96, Joints: 17,
		Codec: heatmap.NewMSRA(96, 128),
		Mean:  [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225},
	}
	md, err := infer.RandomModel(meta, 1)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := infer.Encode(&buf, md); err != nil {
		panic(err)
	}
	md2, err := infer.Decode(buf.Bytes())
	if err != nil {
		panic(err)
	}
	hm, err := md2.Forward(make([]float32, 2*3*128*96), 2)
	if err != nil {
		panic(err)
	}
	k, h, w := md2.OutputShape()
	fmt.Println(md2.Meta.Preset, md2.NumParams(), "parameters,", len(hm), "=", 2, "x", k, "x", h, "x", w)
	// Output: posenet-s 2307537 parameters, 26112 = 2 x 17 x 32 x 24
}

// BenchmarkInferForward times one inference (ms/op) on the default
// kernel (kern.Sgemm: AVX2 on amd64, portable Go on wasm).
func BenchmarkInferForward(b *testing.B) {
	for _, bb := range []struct {
		preset string
		h, w   int
		n      int
	}{{infer.PresetPoseNetS, 128, 96, 1}, {infer.PresetPoseNetS, 128, 96, 8}, {infer.PresetResNet18, 256, 192, 1}} {
		b.Run(fmt.Sprintf("%s_B%d", bb.preset, bb.n), func(b *testing.B) {
			md, err := infer.RandomModel(testMeta(bb.preset, bb.h, bb.w, 17), 7)
			if err != nil {
				b.Fatal(err)
			}
			x := randSlice(rand.New(rand.NewPCG(1, 2)), bb.n*3*bb.h*bb.w)
			md.Forward(x, bb.n)
			for b.Loop() {
				md.Forward(x, bb.n)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N)/float64(bb.n), "ms/img")
		})
	}
}

// BenchmarkIm2col times the unrolling of the posenet-s layer shapes.
func BenchmarkIm2col(b *testing.B) {
	for _, cv := range []kern.Conv{
		{InC: 64, OutC: 64, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 32, InW: 24},
		{InC: 32, OutC: 64, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 64, InW: 48},
	} {
		b.Run(fmt.Sprintf("C%d_H%dW%d_s%d", cv.InC, cv.InH, cv.InW, cv.Stride), func(b *testing.B) {
			x := make([]float32, cv.InC*cv.InH*cv.InW)
			col := make([]float32, cv.InC*9*cv.OutH()*cv.OutW())
			for b.Loop() {
				infer.Im2col(cv, x, col)
			}
		})
	}
}

// BenchmarkDecode times turning a model file into a ready Model (the
// browser's load step).
func BenchmarkDecode(b *testing.B) {
	md, err := infer.RandomModel(testMeta(infer.PresetPoseNetS, 128, 96, 17), 8)
	if err != nil {
		b.Fatal(err)
	}
	data := encoded(b, md)
	b.Run("posenet-s_f32", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			m, err := infer.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			m.SetKernel(infer.PanelKernel{})
		}
	})
}
