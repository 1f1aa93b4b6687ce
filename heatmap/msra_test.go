package heatmap

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// codec128 is the project default: 128x96 (h x w) input, 32x24 heatmap.
var codec128 = MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1}

// codec256 is the mmpose 256x192 configuration, 64x48 heatmap, sigma 2.
var codec256 = MSRA{InputW: 192, InputH: 256, W: 48, H: 64, Sigma: 2}

func TestDefaults(t *testing.T) {
	tests := []struct {
		h     int
		sigma float64
		blur  int
	}{
		{32, 1, 5},
		{64, 2, 11},
		{96, 3, 17},
		{16, 0.5, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("H", tt.h), func(t *testing.T) {
			if got := DefaultSigma(tt.h); got != tt.sigma {
				t.Errorf("DefaultSigma(%d) = %v, want %v", tt.h, got, tt.sigma)
			}
			if got := DefaultBlurKernel(tt.sigma); got != tt.blur {
				t.Errorf("DefaultBlurKernel(%v) = %d, want %d", tt.sigma, got, tt.blur)
			}
		})
	}
	if got := NewMSRA(96, 128); got != codec128 {
		t.Errorf("NewMSRA(96, 128) = %+v, want %+v", got, codec128)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    MSRA
		ok   bool
	}{
		{"default", codec128, true},
		{"dark", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true, BlurKernel: 11}, true},
		{"zero", MSRA{}, false},
		{"no heatmap", MSRA{InputW: 96, InputH: 128, Sigma: 1}, false},
		{"negative sigma", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: -1}, false},
		{"nan sigma", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: math.NaN()}, false},
		{"even blur", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, BlurKernel: 4}, false},
		{"huge blur", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, BlurKernel: 65}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestEncodeValues checks target values against the Gaussian formula of
// mmpose generate_gaussian_heatmaps by hand.
func TestEncodeValues(t *testing.T) {
	c := codec256
	hm := make([]float32, 64*48)
	// input (41, 87) -> heatmap (10.25, 21.75) -> centre (10, 22).
	w := c.Encode(hm, []Point{{41, 87}}, []bool{true})
	if w[0] != 1 {
		t.Fatalf("weight = %v, want 1", w[0])
	}
	at := func(x, y int) float32 { return hm[y*48+x] }
	tests := []struct {
		x, y int
		want float64
	}{
		{10, 22, 1},
		{11, 22, math.Exp(-1.0 / 8)},
		{10, 20, math.Exp(-4.0 / 8)},
		{13, 25, math.Exp(-18.0 / 8)},
		{16, 22, math.Exp(-36.0 / 8)}, // radius 6 is inside
		{17, 22, 0},                   // radius 7 is outside
		{10, 29, 0},
		{16, 28, math.Exp(-72.0 / 8)}, // square window, corner included
	}
	for _, tt := range tests {
		if got := at(tt.x, tt.y); math.Abs(float64(got)-tt.want) > 1e-6 {
			t.Errorf("hm(%d,%d) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
	}
}

// TestEncodeDARKValues checks the unbiased (DARK) targets against the
// formula of mmpose generate_unbiased_gaussian_heatmaps: exact centre, no
// cut-off radius.
func TestEncodeDARKValues(t *testing.T) {
	c := MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}
	hm := make([]float32, 32*24)
	if w := c.Encode(hm, []Point{{41.3, 62.9}}, []bool{true}); w[0] != 1 {
		t.Fatalf("weight %v, want 1", w[0])
	}
	mx, my := 41.3/4, 62.9/4
	for _, p := range [][2]int{{10, 16}, {11, 15}, {10, 20}, {18, 16}, {0, 0}} {
		dx, dy := float64(p[0])-mx, float64(p[1])-my
		want := math.Exp(-(dx*dx + dy*dy) / 2)
		if got := float64(hm[p[1]*24+p[0]]); math.Abs(got-want) > 1e-6+1e-6*want {
			t.Errorf("hm(%d,%d) = %v, want %v", p[0], p[1], got, want)
		}
	}
	// The in-bounds test uses the exact centre: mu+3*sigma+1 < 0 drops it.
	if w := c.Encode(hm, []Point{{-16.5, 60}}, []bool{true}); w[0] != 0 { // mu = -4.125
		t.Errorf("off-map DARK weight %v, want 0", w[0])
	}
	if w := c.Encode(hm, []Point{{-15.5, 60}}, []bool{true}); w[0] != 1 { // mu = -3.875
		t.Errorf("near-map DARK weight %v, want 1", w[0])
	}
}

// TestRoundTrip encodes random interior points and decodes them: within
// 0.5 heatmap px for the plain codec, much closer with DARK.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    MSRA
		tol  float64 // heatmap pixels, per axis
		mean float64 // bound on the mean absolute error, heatmap pixels
	}{
		{"H32W24_sigma1", codec128, 0.5, 0.3},
		{"H64W48_sigma2", codec256, 0.5, 0.3},
		{"H64W48_sigma3", MSRA{InputW: 192, InputH: 256, W: 48, H: 64, Sigma: 3}, 0.5, 0.3},
		{"H32W24_sigma1.5", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1.5}, 0.5, 0.3},
		{"DARK_H64W48_sigma2", MSRA{InputW: 192, InputH: 256, W: 48, H: 64, Sigma: 2, DARK: true}, 0.05, 0.02},
		{"DARK_H32W24_sigma1", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}, 0.1, 0.05},
		{"DARK_H32W24_sigma1_blur11", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true, BlurKernel: 11}, 0.1, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			r := rand.New(rand.NewPCG(1, 2))
			const K = 17
			sx, sy := float64(c.InputW)/float64(c.W), float64(c.InputH)/float64(c.H)
			hm := make([]float32, K*c.H*c.W)
			var sum float64
			var n int
			for range 20 {
				kps := make([]Point, K)
				vis := make([]bool, K)
				for k := range kps {
					// interior: at least 3 heatmap pixels from every border
					kps[k] = Point{(3 + r.Float64()*float64(c.W-7)) * sx, (3 + r.Float64()*float64(c.H-7)) * sy}
					vis[k] = true
				}
				w := c.Encode(hm, kps, vis)
				pts, scores := c.Decode(hm)
				for k := range kps {
					if w[k] != 1 {
						t.Fatalf("weight[%d] = %v, want 1", k, w[k])
					}
					ex, ey := math.Abs(pts[k].X-kps[k].X)/sx, math.Abs(pts[k].Y-kps[k].Y)/sy
					if ex > tt.tol || ey > tt.tol {
						t.Errorf("joint %d: %v decoded as %v (error %.3f, %.3f heatmap px > %v)", k, kps[k], pts[k], ex, ey, tt.tol)
					}
					if scores[k] < 0.5 || scores[k] > 1 {
						t.Errorf("score[%d] = %v, want in [0.5, 1]", k, scores[k])
					}
					sum += ex + ey
					n += 2
				}
			}
			if m := sum / float64(n); m > tt.mean {
				t.Errorf("mean error %.4f heatmap px > %v", m, tt.mean)
			}
		})
	}
}

// TestEncodeCases covers the border, invisible points and points off the map.
func TestEncodeCases(t *testing.T) {
	c := codec128 // heatmap 24x32, sigma 1, radius 3; input px = 4 heatmap px
	tests := []struct {
		name   string
		p      Point // input pixels
		vis    bool
		weight float32
		peakX  int // expected peak pixel, -1 for an all-zero channel
		peakY  int
	}{
		{"interior", Point{40, 60}, true, 1, 10, 15},
		{"invisible", Point{40, 60}, false, 0, -1, -1},
		{"top-left corner", Point{0, 0}, true, 1, 0, 0},
		{"bottom-right corner", Point{93, 125}, true, 1, 23, 31},
		{"left of map, Gaussian overlaps", Point{-8, 60}, true, 1, -1, -1}, // int(-2+0.5) = -1: tail at x=0..2
		{"left of map, outside", Point{-24, 60}, true, 0, -1, -1},          // centre int(-5.5) = -5: right = -1
		{"right of map, outside", Point{96 + 12, 60}, true, 0, -1, -1},     // centre 27: left = 24 >= W
		{"below map, outside", Point{40, 128 + 12}, true, 0, -1, -1},
		{"NaN", Point{math.NaN(), 60}, true, 0, -1, -1},
		{"Inf", Point{40, math.Inf(1)}, true, 0, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hm := make([]float32, c.H*c.W)
			for i := range hm {
				hm[i] = 7 // Encode must overwrite stale content
			}
			w := c.Encode(hm, []Point{tt.p}, []bool{tt.vis})
			if w[0] != tt.weight {
				t.Errorf("weight = %v, want %v", w[0], tt.weight)
			}
			best, bv := -1, float32(0)
			for i, v := range hm {
				if v > bv {
					best, bv = i, v
				}
			}
			switch {
			case tt.peakX < 0 && tt.name == "left of map, Gaussian overlaps":
				if bv <= 0 || bv >= 0.7 || best%c.W != 0 {
					t.Errorf("want a Gaussian tail at x=0, got max %v at %d", bv, best)
				}
			case tt.peakX < 0:
				if best >= 0 {
					t.Errorf("channel not zero: max %v at (%d,%d)", bv, best%c.W, best/c.W)
				}
			default:
				if bv != 1 || best != tt.peakY*c.W+tt.peakX {
					t.Errorf("peak %v at (%d,%d), want 1 at (%d,%d)", bv, best%c.W, best/c.W, tt.peakX, tt.peakY)
				}
			}
		})
	}
}

// TestDecodeBorder checks the mmpose refine_keypoints bounds: no shift on
// the first two columns and the first row.
func TestDecodeBorder(t *testing.T) {
	c := MSRA{InputW: 8, InputH: 8, W: 8, H: 8, Sigma: 1} // scale 1
	tests := []struct {
		name       string
		x, y       int
		nx, ny     int // neighbour given value 0.5
		want       Point
		wantScore  float32
		peakValues float32
	}{
		{"interior right", 4, 4, 5, 4, Point{4.25, 4}, 1, 1},
		{"interior up", 4, 4, 4, 3, Point{4, 3.75}, 1, 1},
		{"column 1 no shift", 1, 4, 2, 4, Point{1, 4}, 1, 1},
		{"column 0", 0, 4, 1, 4, Point{0, 4}, 1, 1},
		{"last column", 7, 4, 6, 4, Point{7, 4}, 1, 1},
		{"row 0 keeps x shift off", 4, 0, 5, 0, Point{4, 0}, 1, 1},
		{"last row x shift", 4, 7, 5, 7, Point{4.25, 7}, 1, 1},
		{"negative peak keeps argmax", 3, 5, 4, 5, Point{3.25, 5}, -0.1, -0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hm := make([]float32, 64)
			if tt.peakValues < 0 {
				for i := range hm {
					hm[i] = -1
				}
				hm[tt.ny*8+tt.nx] = -0.5
			} else {
				hm[tt.ny*8+tt.nx] = 0.5
			}
			hm[tt.y*8+tt.x] = tt.peakValues
			pts, s := c.Decode(hm)
			if pts[0] != tt.want || s[0] != tt.wantScore {
				t.Errorf("Decode = %v score %v, want %v score %v", pts[0], s[0], tt.want, tt.wantScore)
			}
		})
	}
}

func TestDecodeIntoNoAlloc(t *testing.T) {
	for _, c := range []MSRA{codec128, {InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}} {
		kps := []Point{{30, 40}, {50, 70}}
		hm := make([]float32, 2*c.H*c.W)
		c.Encode(hm, kps, []bool{true, true})
		pts, scores := make([]Point, 2), make([]float32, 2)
		w := make([]float32, 2)
		if n := testing.AllocsPerRun(10, func() { c.DecodeInto(hm, pts, scores) }); n != 0 {
			t.Errorf("DARK=%v: DecodeInto allocates %v times", c.DARK, n)
		}
		if n := testing.AllocsPerRun(10, func() { c.EncodeInto(hm, w, kps, []bool{true, true}) }); n != 0 {
			t.Errorf("DARK=%v: EncodeInto allocates %v times", c.DARK, n)
		}
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"Encode short dst", func() { codec128.Encode(make([]float32, 10), []Point{{}}, []bool{true}) }},
		{"Encode vis", func() { codec128.Encode(make([]float32, 768), []Point{{}}, nil) }},
		{"Decode ragged", func() { codec128.Decode(make([]float32, 769)) }},
		{"DecodeInto scores", func() { codec128.DecodeInto(make([]float32, 768), make([]Point, 1), nil) }},
		{"FlipBack length", func() { FlipBack(make([]float32, 5), 1, 2, 2, nil) }},
		{"FlipBack pair", func() { FlipBack(make([]float32, 8), 2, 2, 2, [][2]int{{0, 2}}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tt.f()
		})
	}
}

func TestFlipBack(t *testing.T) {
	const K, H, W = 5, 4, 3
	pairs := [][2]int{{0, 1}, {3, 4}, {2, 2}}
	hm := make([]float32, K*H*W)
	for i := range hm {
		hm[i] = float32(i)
	}
	orig := append([]float32(nil), hm...)
	FlipBack(hm, K, H, W, pairs)
	at := func(s []float32, k, y, x int) float32 { return s[(k*H+y)*W+x] }
	// channel 0 now holds channel 1 mirrored; 2 is itself mirrored.
	for _, c := range []struct{ k, src int }{{0, 1}, {1, 0}, {2, 2}, {3, 4}, {4, 3}} {
		for y := range H {
			for x := range W {
				if got, want := at(hm, c.k, y, x), at(orig, c.src, y, W-1-x); got != want {
					t.Fatalf("hm(%d,%d,%d) = %v, want %v", c.k, y, x, got, want)
				}
			}
		}
	}
	FlipBack(hm, K, H, W, pairs)
	for i := range hm {
		if hm[i] != orig[i] {
			t.Fatalf("FlipBack twice differs at %d: %v != %v", i, hm[i], orig[i])
		}
	}
}

// TestFlipDecode: encoding the mirrored points (x -> InputW-s - x, with s
// the stride, so that heatmap pixel i maps to W-1-i) then flipping back
// decodes to the original points.
func TestFlipDecode(t *testing.T) {
	c := codec128
	s := float64(c.InputW / c.W)
	kps := []Point{{20, 40}, {60, 80}, {48, 64}}
	pairs := [][2]int{{0, 1}}
	flipped := []Point{
		{float64(c.InputW) - s - kps[1].X, kps[1].Y},
		{float64(c.InputW) - s - kps[0].X, kps[0].Y},
		{float64(c.InputW) - s - kps[2].X, kps[2].Y},
	}
	hm := make([]float32, 3*c.H*c.W)
	c.Encode(hm, flipped, []bool{true, true, true})
	FlipBack(hm, 3, c.H, c.W, pairs)
	pts, _ := c.Decode(hm)
	for k := range kps {
		if math.Abs(pts[k].X-kps[k].X) > 0.5*s || math.Abs(pts[k].Y-kps[k].Y) > 0.5*s {
			t.Errorf("joint %d: got %v, want %v", k, pts[k], kps[k])
		}
	}
}

func TestJSON(t *testing.T) {
	c := MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true, BlurKernel: 7}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"input_w":96,"input_h":128,"heatmap_w":24,"heatmap_h":32,"sigma":1,"dark":true,"blur_kernel":7}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back MSRA
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != c {
		t.Errorf("Unmarshal = %+v, want %+v", back, c)
	}
}

func TestGaussianKernel(t *testing.T) {
	for _, n := range []int{1, 3, 5, 7, 9, 11, 17, 63} {
		k := make([]float64, n)
		gaussianKernel(k)
		sum := 0.0
		for i := range k {
			sum += k[i]
			if k[i] != k[n-1-i] {
				t.Errorf("n=%d: kernel not symmetric", n)
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("n=%d: sum %v, want 1", n, sum)
		}
	}
	// OpenCV: ksize 11 -> sigma 2.
	k := make([]float64, 11)
	gaussianKernel(k)
	if r, want := k[5]/k[4], math.Exp(1.0/8); math.Abs(r-want) > 1e-12 {
		t.Errorf("k[5]/k[4] = %v, want %v (sigma 2)", r, want)
	}
}

func FuzzDecode(f *testing.F) {
	const K, H, W = 2, 8, 6
	seed := make([]byte, 4*K*H*W)
	f.Add(seed, false)
	hm := make([]float32, K*H*W)
	MSRA{InputW: 24, InputH: 32, W: W, H: H, Sigma: 1, DARK: true}.Encode(hm, []Point{{10, 13}, {3, 30}}, []bool{true, true})
	for i, v := range hm {
		binary.LittleEndian.PutUint32(seed[4*i:], math.Float32bits(v))
	}
	f.Add(seed, true)
	f.Add(seed[:17], true)
	f.Fuzz(func(t *testing.T, data []byte, dark bool) {
		c := MSRA{InputW: 24, InputH: 32, W: W, H: H, Sigma: 1, DARK: dark}
		hm := make([]float32, K*H*W)
		for i := range hm {
			if 4*i+4 <= len(data) {
				hm[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
		}
		pts, scores := c.Decode(hm)
		for k, p := range pts {
			if !(p.X >= 0 && p.X <= float64(c.InputW-4) && p.Y >= 0 && p.Y <= float64(c.InputH-4)) {
				t.Errorf("joint %d: %v outside [0,%d]x[0,%d]", k, p, c.InputW-4, c.InputH-4)
			}
			if s := scores[k]; s != s {
				t.Errorf("joint %d: NaN score", k)
			}
		}
	})
}

func benchSizes() []struct {
	name string
	c    MSRA
} {
	return []struct {
		name string
		c    MSRA
	}{
		{"K17_H32W24", codec128},
		{"K17_H64W48", codec256},
		{"K17_H32W24_DARK", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}},
		{"K17_H64W48_DARK", MSRA{InputW: 192, InputH: 256, W: 48, H: 64, Sigma: 2, DARK: true}},
	}
}

func randomKeypoints(c MSRA, K int) ([]Point, []bool) {
	r := rand.New(rand.NewPCG(3, 4))
	kps, vis := make([]Point, K), make([]bool, K)
	for k := range kps {
		kps[k] = Point{r.Float64() * float64(c.InputW), r.Float64() * float64(c.InputH)}
		vis[k] = true
	}
	return kps, vis
}

func BenchmarkEncode(b *testing.B) {
	for _, bs := range benchSizes() {
		b.Run(bs.name, func(b *testing.B) {
			kps, vis := randomKeypoints(bs.c, 17)
			hm := make([]float32, 17*bs.c.H*bs.c.W)
			w := make([]float32, 17)
			var n int
			c0 := cpuTime()
			for b.Loop() {
				bs.c.EncodeInto(hm, w, kps, vis)
				n++
			}
			reportCPU(b, c0, n)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bs := range benchSizes() {
		b.Run(bs.name, func(b *testing.B) {
			kps, vis := randomKeypoints(bs.c, 17)
			hm := make([]float32, 17*bs.c.H*bs.c.W)
			bs.c.Encode(hm, kps, vis)
			pts, scores := make([]Point, 17), make([]float32, 17)
			var n int
			c0 := cpuTime()
			for b.Loop() {
				bs.c.DecodeInto(hm, pts, scores)
				n++
			}
			reportCPU(b, c0, n)
		})
	}
}

// TestMSRAFlipBack: heatmaps of an input mirrored as x -> InputW-1-x,
// flipped back, decode (DARK) to the original points; the plain grid
// mirror is 0.75 heatmap px off.
func TestMSRAFlipBack(t *testing.T) {
	c := MSRA{InputW: 192, InputH: 256, W: 48, H: 64, Sigma: 2, DARK: true}
	kps := []Point{{50.3, 100.7}, {140.2, 90.1}, {96, 128}}
	pairs := [][2]int{{0, 1}}
	mirror := func(p Point) Point { return Point{float64(c.InputW) - 1 - p.X, p.Y} }
	flipped := []Point{mirror(kps[1]), mirror(kps[0]), mirror(kps[2])}
	vis := []bool{true, true, true}
	tests := []struct {
		name   string
		back   func(hm []float32)
		lo, hi float64 // bounds on the x error, heatmap px
	}{
		{"MSRA.FlipBack", func(hm []float32) { c.FlipBack(hm, pairs) }, 0, 0.1},
		{"grid mirror", func(hm []float32) { FlipBack(hm, 3, c.H, c.W, pairs) }, 0.65, 0.85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hm := make([]float32, 3*c.H*c.W)
			c.Encode(hm, flipped, vis)
			tt.back(hm)
			pts, scores := c.Decode(hm)
			for k := range kps {
				ex := math.Abs(pts[k].X-kps[k].X) / 4
				ey := math.Abs(pts[k].Y-kps[k].Y) / 4
				if ex < tt.lo || ex > tt.hi || ey > 0.1 {
					t.Errorf("joint %d: %v decoded as %v (error %.3f, %.3f heatmap px; want x error in [%v, %v])", k, kps[k], pts[k], ex, ey, tt.lo, tt.hi)
				}
				if scores[k] < 0.8 {
					t.Errorf("joint %d: score %v", k, scores[k])
				}
			}
		})
	}
}

// reportCPU adds the process CPU time per operation since c0: on a
// shared machine it is steadier than wall time.
func reportCPU(b *testing.B, c0 time.Duration, n int) {
	if cpu := cpuTime() - c0; cpu > 0 && c0 > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}
