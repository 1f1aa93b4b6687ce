package heatmap

import (
	"fmt"
	"math"
)

// Point is a 2-D keypoint location in pixels (see the package doc for the
// coordinate convention).
type Point struct {
	X, Y float64
}

// Codec turns keypoints into heatmap targets and heatmaps back into
// keypoints. One codec value is shared by target generation and decoding
// and saved with the model.
type Codec interface {
	// Encode writes the targets for len(kps) joints into dst (K*H*W,
	// row-major (k,y,x)) and returns the per-joint weights (len K).
	// kps are in input pixels; vis[k] false means joint k is unlabeled.
	Encode(dst []float32, kps []Point, vis []bool) (weights []float32)
	// Decode returns, for hm of K*H*W values, K keypoints in input pixels
	// and K confidences.
	Decode(hm []float32) ([]Point, []float32)
	// InputSize returns the network input size in pixels.
	InputSize() (w, h int)
	// HeatmapSize returns the heatmap size in pixels.
	HeatmapSize() (w, h int)
}

// MSRA is the Gaussian heatmap codec of mmpose's MSRAHeatmap.
//
// With DARK false it is MSRAHeatmap(unbiased=False): each labeled joint
// becomes an unnormalised Gaussian (peak 1) of standard deviation Sigma
// heatmap pixels, centred on the keypoint rounded to the nearest heatmap
// pixel and cut to the square |dx|, |dy| <= floor(3*Sigma) (identical to
// mmpose when 3*Sigma is an integer; for other sigmas mmpose's window is
// off-centre by a pixel, this one is symmetric); decoding is the argmax
// with the quarter-pixel shift towards the higher neighbour.
//
// With DARK true it is MSRAHeatmap(unbiased=True): the Gaussian is centred
// on the exact (sub-pixel) location and covers the whole map, and decoding
// refines the argmax with the DARK second-order Taylor expansion of the
// log of the blurred heatmap.
//
// The zero value is not usable; see Validate.
type MSRA struct {
	InputW int     `json:"input_w"`
	InputH int     `json:"input_h"`
	W      int     `json:"heatmap_w"`
	H      int     `json:"heatmap_h"`
	Sigma  float64 `json:"sigma"`
	DARK   bool    `json:"dark,omitempty"`
	// BlurKernel is the odd size of the Gaussian blur used by DARK
	// decoding (mmpose blur_kernel_size); 0 selects DefaultBlurKernel(Sigma).
	BlurKernel int `json:"blur_kernel,omitempty"`
}

var _ Codec = MSRA{}

// DefaultSigma returns the Gaussian sigma, in heatmap pixels, used for a
// heatmap of height h: 2 at 64 (256x192 input), 1 at 32 (128x96 input),
// 3 at 96 (384x288 input); that is sigma = 2*h/64, the mmpose recipe
// scaled with the map.
func DefaultSigma(h int) float64 { return 2 * float64(h) / 64 }

// DefaultBlurKernel returns the DARK blur kernel size for sigma:
// 2*round(3*sigma)-1, at least 3 (11 for sigma 2 and 17 for sigma 3, as in
// mmpose's DARK configs; 5 for sigma 1).
func DefaultBlurKernel(sigma float64) int {
	k := 2*int(math.Round(3*sigma)) - 1
	if k < 3 {
		k = 3
	}
	return k
}

// NewMSRA returns the codec for an input of inputW x inputH pixels with a
// heatmap four times smaller in each direction and DefaultSigma.
func NewMSRA(inputW, inputH int) MSRA {
	h := inputH / 4
	return MSRA{InputW: inputW, InputH: inputH, W: inputW / 4, H: h, Sigma: DefaultSigma(h)}
}

// maxBlurKernel bounds BlurKernel so the DARK scratch space stays on the stack.
const maxBlurKernel = 63

// Validate reports whether the codec's fields are usable.
func (c MSRA) Validate() error {
	switch {
	case c.InputW <= 0 || c.InputH <= 0:
		return fmt.Errorf("heatmap: input size %dx%d (w x h) must be positive", c.InputW, c.InputH)
	case c.W <= 0 || c.H <= 0:
		return fmt.Errorf("heatmap: heatmap size %dx%d (w x h) must be positive", c.W, c.H)
	case !(c.Sigma > 0) || math.IsInf(c.Sigma, 0):
		return fmt.Errorf("heatmap: sigma %v must be positive and finite", c.Sigma)
	case c.BlurKernel < 0 || (c.BlurKernel > 0 && c.BlurKernel%2 == 0) || c.BlurKernel > maxBlurKernel:
		return fmt.Errorf("heatmap: blur kernel %d must be 0 or odd and at most %d", c.BlurKernel, maxBlurKernel)
	}
	return nil
}

// InputSize returns the network input size [w, h] in pixels.
func (c MSRA) InputSize() (w, h int) { return c.InputW, c.InputH }

// HeatmapSize returns the heatmap size [w, h] in pixels.
func (c MSRA) HeatmapSize() (w, h int) { return c.W, c.H }

// scale returns the heatmap-per-input-pixel factors (W/InputW, H/InputH).
func (c MSRA) scale() (sx, sy float64) {
	return float64(c.W) / float64(c.InputW), float64(c.H) / float64(c.InputH)
}

// Encode writes the Gaussian targets of the K = len(kps) joints into dst
// and returns their weights; see EncodeInto.
//
// dst: K*H*W, row-major (k,y,x). It panics if len(dst) != K*H*W or
// len(vis) != K.
func (c MSRA) Encode(dst []float32, kps []Point, vis []bool) (weights []float32) {
	weights = make([]float32, len(kps))
	c.EncodeInto(dst, weights, kps, vis)
	return weights
}

// EncodeInto is Encode without allocation: it overwrites dst (K*H*W,
// row-major (k,y,x)) with the targets and weights (len K) with 1 for
// joints that are labeled and whose Gaussian overlaps the map, 0 for the
// others (whose channel is all zero). Non-finite keypoints count as
// outside the map.
//
// The in-bounds test is mmpose's: with mu the centre and r = 3*Sigma, the
// joint is dropped when mu-r >= W, mu-r >= H (for y), mu+r+1 < 0.
//
// It panics if len(dst) != K*H*W, len(weights) != K or len(vis) != K.
func (c MSRA) EncodeInto(dst, weights []float32, kps []Point, vis []bool) {
	K, H, W := len(kps), c.H, c.W
	if len(dst) != K*H*W || len(weights) != K || len(vis) != K {
		panic(fmt.Sprintf("heatmap: EncodeInto: len(dst)=%d len(weights)=%d len(vis)=%d, want %d, %d, %d",
			len(dst), len(weights), len(vis), K*H*W, K, K))
	}
	clear(dst)
	sx, sy := c.scale()
	r := 3 * c.Sigma
	inv2s2 := 1 / (2 * c.Sigma * c.Sigma)
	// Gaussian factors: exp(-(dx^2+dy^2)/2s^2) = gx(dx)*gy(dy). The
	// scratch lives on the stack for maps up to 256 wide/high.
	var gxBuf, gyBuf [256]float64
	var gx, gy []float64
	if W <= len(gxBuf) && H <= len(gyBuf) {
		gx, gy = gxBuf[:W], gyBuf[:H]
	} else {
		gx, gy = make([]float64, W), make([]float64, H)
	}
	for k, p := range kps {
		weights[k] = 0
		if !vis[k] {
			continue
		}
		x, y := p.X*sx, p.Y*sy
		if math.IsNaN(x) || math.IsNaN(y) || math.Abs(x) > 1e9 || math.Abs(y) > 1e9 {
			continue
		}
		var x0, x1, y0, y1 int // pixel window [x0,x1) x [y0,y1)
		var mx, my float64     // Gaussian centre in heatmap pixels
		if c.DARK {
			// generate_unbiased_gaussian_heatmaps: exact centre, whole map.
			if x-r >= float64(W) || y-r >= float64(H) || x+r+1 < 0 || y+r+1 < 0 {
				continue
			}
			mx, my = x, y
			x0, x1, y0, y1 = 0, W, 0, H
		} else {
			// generate_gaussian_heatmaps: centre int(kp+0.5) (truncation,
			// as numpy astype), window of radius 3*sigma.
			ix, iy := int(x+0.5), int(y+0.5)
			left, top := int(float64(ix)-r), int(float64(iy)-r)
			right, bottom := int(float64(ix)+r+1), int(float64(iy)+r+1)
			if left >= W || top >= H || right < 0 || bottom < 0 {
				continue
			}
			mx, my = float64(ix), float64(iy)
			ri := int(r) // pixels with |dx| <= floor(3 sigma)
			x0, x1 = max(0, ix-ri), min(W, ix+ri+1)
			y0, y1 = max(0, iy-ri), min(H, iy+ri+1)
		}
		weights[k] = 1
		for i := x0; i < x1; i++ {
			d := float64(i) - mx
			gx[i] = math.Exp(-d * d * inv2s2)
		}
		for j := y0; j < y1; j++ {
			d := float64(j) - my
			gy[j] = math.Exp(-d * d * inv2s2)
		}
		ch := dst[k*H*W : (k+1)*H*W]
		for j := y0; j < y1; j++ {
			row := ch[j*W : (j+1)*W]
			g := gy[j]
			for i := x0; i < x1; i++ {
				row[i] = float32(g * gx[i])
			}
		}
	}
}

// Decode returns the K = len(hm)/(H*W) keypoints in input pixels and their
// confidences (the peak values); see DecodeInto.
//
// hm: K*H*W, row-major (k,y,x). It panics if len(hm) is not a multiple of
// H*W.
func (c MSRA) Decode(hm []float32) ([]Point, []float32) {
	n := c.H * c.W
	if n == 0 || len(hm)%n != 0 {
		panic(fmt.Sprintf("heatmap: Decode: len(hm)=%d is not a multiple of H*W=%d", len(hm), n))
	}
	K := len(hm) / n
	pts, scores := make([]Point, K), make([]float32, K)
	c.DecodeInto(hm, pts, scores)
	return pts, scores
}

// DecodeInto decodes hm (K*H*W, row-major (k,y,x)) into pts (len K, input
// pixels) and scores (len K) without allocating.
//
// Each joint is the first maximum of its channel (NaN values are skipped),
// refined by mmpose's refine_keypoints (a quarter pixel towards the higher
// horizontal neighbour when 1 < x < W-1, and vertical when 1 < y < H-1;
// the asymmetric bounds are mmpose's) or, with DARK, by
// refine_keypoints_dark (when 1 < x < W-2 and 1 < y < H-2), then scaled
// by InputW/W and InputH/H. The score is the peak value.
//
// Two deliberate differences from mmpose keep the output usable on any
// input: a channel whose peak is <= 0 keeps its argmax location (mmpose
// returns -1) with the peak as score (0 for an all-NaN channel), and the
// DARK offset is dropped when not finite and clamped to one heatmap pixel
// per axis. Decoded points therefore always lie in
// [0, (W-1)*InputW/W] x [0, (H-1)*InputH/H].
//
// It panics if len(hm) != len(pts)*H*W or len(scores) != len(pts).
func (c MSRA) DecodeInto(hm []float32, pts []Point, scores []float32) {
	K, H, W := len(pts), c.H, c.W
	if len(hm) != K*H*W || len(scores) != K {
		panic(fmt.Sprintf("heatmap: DecodeInto: len(hm)=%d len(scores)=%d, want %d, %d", len(hm), len(scores), K*H*W, K))
	}
	ix, iy := float64(c.InputW)/float64(W), float64(c.InputH)/float64(H)
	var kern [maxBlurKernel]float64
	var kn int
	if c.DARK {
		ks := c.BlurKernel
		if ks == 0 {
			ks = DefaultBlurKernel(c.Sigma)
		}
		kn = gaussianKernel(kern[:ks])
	}
	for k := range K {
		ch := hm[k*H*W : (k+1)*H*W]
		best, bv := argmax(ch)
		x, y := best%W, best/W
		px, py := float64(x), float64(y)
		if c.DARK {
			ox, oy := darkOffset(ch, W, H, x, y, kern[:kn])
			px += ox
			py += oy
		} else {
			if 1 < x && x < W-1 && 0 < y && y < H {
				px += 0.25 * sign(ch[y*W+x+1]-ch[y*W+x-1])
			}
			if 1 < y && y < H-1 && 0 < x && x < W {
				py += 0.25 * sign(ch[(y+1)*W+x]-ch[(y-1)*W+x])
			}
		}
		pts[k] = Point{px * ix, py * iy}
		scores[k] = bv
	}
}

// argmax returns the index and value of the first maximum of ch, skipping
// NaN values; an all-NaN channel gives (0, 0).
func argmax(ch []float32) (int, float32) {
	i0 := 0
	for i0 < len(ch) && ch[i0] != ch[i0] {
		i0++
	}
	if i0 == len(ch) {
		return 0, 0
	}
	best, bv := i0, ch[i0]
	for i := i0 + 1; i < len(ch); i++ {
		if v := ch[i]; v > bv { // false for NaN
			best, bv = i, v
		}
	}
	return best, bv
}

func sign(v float32) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// gaussianKernel fills k (odd length) with OpenCV's getGaussianKernel(len,
// sigma=0): the fixed tables for sizes up to 7, otherwise a sampled
// Gaussian with sigma = 0.3*((len-1)/2-1)+0.8, normalised to sum 1. It
// returns len(k).
func gaussianKernel(k []float64) int {
	switch len(k) {
	case 1:
		k[0] = 1
		return 1
	case 3:
		copy(k, []float64{0.25, 0.5, 0.25})
		return 3
	case 5:
		copy(k, []float64{0.0625, 0.25, 0.375, 0.25, 0.0625})
		return 5
	case 7:
		copy(k, []float64{0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125})
		return 7
	}
	n := len(k)
	sigma := 0.3*(float64(n-1)*0.5-1) + 0.8
	c := float64(n-1) / 2
	sum := 0.0
	for i := range k {
		d := float64(i) - c
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return n
}

// darkOffset returns the DARK sub-pixel offset (heatmap pixels) of the
// maximum at (x, y) of the channel ch (H*W, row-major), following mmpose's
// refine_keypoints_dark with the Gaussian blur (zero padding) evaluated
// only on the 5x5 patch the derivatives need. mmpose's rescaling of the
// blurred map to the original peak is a constant factor, a constant term
// after the log, and cancels in the derivatives.
func darkOffset(ch []float32, W, H, x, y int, kern []float64) (ox, oy float64) {
	if !(1 < x && x < W-2 && 1 < y && y < H-2) {
		return 0, 0
	}
	rb := len(kern) / 2
	// rows[j][u]: horizontal blur at row y-2-rb+j, column x-2+u.
	var rows [maxBlurKernel + 4][5]float64
	for j := 0; j < 2*rb+5; j++ {
		yy := y - 2 - rb + j
		if yy < 0 || yy >= H {
			rows[j] = [5]float64{}
			continue
		}
		line := ch[yy*W : (yy+1)*W]
		for u := range 5 {
			xx := x - 2 + u
			s := 0.0
			for t, w := range kern {
				if xi := xx + t - rb; xi >= 0 && xi < W {
					s += w * float64(line[xi])
				}
			}
			rows[j][u] = s
		}
	}
	// L(u, v) = log(max(blur, 1e-10)) at (x+u, y+v), u, v in [-2, 2].
	L := func(u, v int) float64 {
		s := 0.0
		for t, w := range kern {
			s += w * rows[v+2+t][u+2]
		}
		return math.Log(math.Max(s, 1e-10))
	}
	c := L(0, 0)
	dx := 0.5 * (L(1, 0) - L(-1, 0))
	dy := 0.5 * (L(0, 1) - L(0, -1))
	dxx := 0.25 * (L(2, 0) - 2*c + L(-2, 0))
	dxy := 0.25 * (L(1, 1) - L(1, -1) - L(-1, 1) + L(-1, -1))
	dyy := 0.25 * (L(0, 2) - 2*c + L(0, -2))
	det := dxx*dyy - dxy*dxy
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return 0, 0
	}
	// offset = -inv(Hessian) * gradient
	ox = -(dyy*dx - dxy*dy) / det
	oy = -(-dxy*dx + dxx*dy) / det
	if math.IsNaN(ox) || math.IsNaN(oy) || math.IsInf(ox, 0) || math.IsInf(oy, 0) {
		return 0, 0
	}
	return math.Max(-1, math.Min(1, ox)), math.Max(-1, math.Min(1, oy))
}

// FlipBack mirrors hm (K*H*W, row-major (k,y,x)) left-right in place and
// swaps the channels of each flip pair, turning the heatmaps predicted for
// a horizontally flipped input into heatmaps for the original input
// (mmpose flip_heatmaps, flip_mode='heatmap', shift_heatmap=False).
// Heatmap column x goes to W-1-x. Applying it twice is the identity.
// With a heatmap stride > 1 this grid mirror is not the exact mirror of
// the input (x -> InputW-1-x); MSRA.FlipBack adds the sub-pixel correction.
//
// It panics if len(hm) != K*H*W or a pair index is outside [0, K).
func FlipBack(hm []float32, K, H, W int, flipPairs [][2]int) {
	if len(hm) != K*H*W {
		panic(fmt.Sprintf("heatmap: FlipBack: len(hm)=%d, want K*H*W=%d", len(hm), K*H*W))
	}
	for _, p := range flipPairs {
		if p[0] < 0 || p[0] >= K || p[1] < 0 || p[1] >= K {
			panic(fmt.Sprintf("heatmap: FlipBack: flip pair %v outside [0, %d)", p, K))
		}
	}
	for r := 0; r < K*H; r++ {
		row := hm[r*W : (r+1)*W]
		for i, j := 0, W-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
	n := H * W
	for _, p := range flipPairs {
		if p[0] == p[1] {
			continue
		}
		a, b := hm[p[0]*n:(p[0]+1)*n], hm[p[1]*n:(p[1]+1)*n]
		for i := range a {
			a[i], b[i] = b[i], a[i]
		}
	}
}

// FlipBack is the package-level FlipBack (mirror and swap the flip pairs
// of hm, K*H*W row-major (k,y,x), with K = len(hm)/(H*W)) followed by a
// sub-pixel shift that makes the result exact for an input mirrored as
// x -> InputW-1-x (the flip of pose/data and of a flip test on the input
// image). Mirroring the heatmap grid alone maps heatmap x to W-1-x, that
// is input x to InputW - InputW/W - x: 0.75 heatmap px off for a stride of
// 4. The shift moves every row right by d = 1 - W/InputW heatmap px with
// linear interpolation (value at x = (1-d)*m[x] + d*m[x-1], 0 beyond the
// left edge), slightly lowering and widening the peaks. mmpose's
// shift_heatmap=True shifts by a whole pixel instead.
//
// It panics if len(hm) is not a multiple of H*W or a pair is out of range.
func (c MSRA) FlipBack(hm []float32, flipPairs [][2]int) {
	n := c.H * c.W
	if n == 0 || len(hm)%n != 0 {
		panic(fmt.Sprintf("heatmap: MSRA.FlipBack: len(hm)=%d is not a multiple of H*W=%d", len(hm), n))
	}
	FlipBack(hm, len(hm)/n, c.H, c.W, flipPairs)
	d := float32(1 - float64(c.W)/float64(c.InputW))
	if d == 0 {
		return
	}
	W := c.W
	for r := 0; r < len(hm)/W; r++ {
		row := hm[r*W : (r+1)*W]
		for x := W - 1; x > 0; x-- {
			row[x] = (1-d)*row[x] + d*row[x-1]
		}
		row[0] *= 1 - d
	}
}
