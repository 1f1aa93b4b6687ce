package synth

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
)

// keypoint is one generated keypoint in image pixels (integer coordinates
// are pixel centres). V follows COCO: 0 not labeled (X = Y = 0), 1 labeled
// but hidden, 2 labeled and visible.
type keypoint struct {
	X, Y float64
	V    int
}

// person is one generated person instance.
type person struct {
	Keypoints [numJoints]keypoint
	Box       [4]float64 // x, y, w, h in image pixels
	Area      float64    // pixels of the drawn silhouette
}

// NumLabeled counts the keypoints with V > 0.
func (p *person) NumLabeled() int {
	n := 0
	for _, k := range p.Keypoints {
		if k.V > 0 {
			n++
		}
	}
	return n
}

// Scene parameters that are not options: they set the difficulty.
const (
	backViewProb   = 0.1 // person seen from behind (no face; nose and eyes unlabeled)
	occluderProb   = 0.3 // per person: a rectangle drawn over one of its joints
	minInFrame     = 6   // joints that must fall inside the image
	maxPlaceTrials = 20
)

// newRand returns the generator of image index in stream stream.
func newRand(seed int64, stream uint64, index int) *rand.Rand {
	z := stream<<40 ^ uint64(index)
	// splitmix64 finaliser so neighbouring indices get unrelated streams.
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return rand.New(rand.NewPCG(uint64(seed), z))
}

// render draws image index of the given seed and stream and returns it with
// its people. It is a pure function of its arguments.
func render(seed int64, stream uint64, index int, o Options) (*image.RGBA, []person) {
	c, people, noise := renderScene(seed, stream, index, o)
	return c.toRGBA(noise), people
}

// renderScene is render before quantisation: the canvas with its owner and
// part maps, the people, and the pixel noise to add.
func renderScene(seed int64, stream uint64, index int, o Options) (*canvas, []person, []float32) {
	r := newRand(seed, stream, index)
	w := o.MinSize + r.IntN(o.MaxSize-o.MinSize+1)
	h := o.MinSize + r.IntN(o.MaxSize-o.MinSize+1)
	c := newCanvas(w, h)
	background(c, r)
	distractors(c, r)

	n := 1
	if u := r.Float64(); u < 0.22 {
		n = 3
	} else if u < 0.55 {
		n = 2
	}
	n = min(n, o.MaxPeople)
	slots := r.Perm(n)
	bodies := make([]*body, n)
	people := make([]person, n)
	for i := range n {
		var b *body
		for trial := 0; ; trial++ {
			b = placeBody(r, w, h, n, slots[i], trial >= maxPlaceTrials)
			if inFrame(b, w, h) >= minInFrame || trial >= maxPlaceTrials {
				break
			}
		}
		bodies[i] = b
		c.beginTrack(int8(i))
		b.draw(c, int8(i))
		people[i].Area = float64(c.endTrack())
		people[i].Box = [4]float64{float64(c.minX), float64(c.minY), float64(c.maxX), float64(c.maxY)}
	}
	for _, b := range bodies {
		if r.Float64() < occluderProb {
			occluder(c, r, b)
		}
	}
	if r.Float64() < 0.08 { // a long bar across the scene (table, fence)
		y := uniform(r, 0.5, 0.95) * float64(h)
		th := uniform(r, 0.06, 0.15) * float64(h)
		pts := rotRect(float64(w)/2, y, float64(w)*1.5, th, deg(uniform(r, -8, 8)))
		c.polygon(pts, randColour(r), texture(r), ownerOccluder)
	}
	for i, b := range bodies {
		label(&people[i], b, c, i)
	}
	return c, people, pixelNoise(r, w, h)
}

// placeBody samples a person for slot slot of n in a w x h image. With
// fallback the person is small and centred so that it is surely in frame.
func placeBody(r *rand.Rand, w, h, n, slot int, fallback bool) *body {
	fw, fh := float64(w), float64(h)
	var frac float64
	if n == 1 {
		frac = uniform(r, 0.45, 0.9)
	} else {
		frac = uniform(r, 0.35, 0.75)
	}
	T := frac * fh / 3.2
	theta := deg(uniform(r, -25, 25))
	if r.Float64() < 0.1 {
		theta = deg(uniform(r, -70, 70))
	}
	sw := fw / float64(n)
	cx := (float64(slot) + uniform(r, 0.2, 0.8)) * sw
	cy := uniform(r, 0.35, 0.65) * fh
	if r.Float64() < 0.12 { // partly out of frame
		if edge := r.IntN(2); (edge == 0 && slot == 0) || (edge == 1 && slot == n-1) {
			cx = []float64{uniform(r, 0, 0.12), uniform(r, 0.88, 1)}[edge] * fw
		} else {
			cy = []float64{uniform(r, 0.1, 0.25), uniform(r, 0.75, 0.9)}[r.IntN(2)] * fh
		}
	}
	if fallback {
		T, theta, cx, cy = 0.4*fh/3.2, 0, fw/2, fh/2
	}
	return newBody(r, T, theta, vec{cx, cy}, backViewProb)
}

func inside(p vec, w, h int) bool {
	return p[0] >= 0 && p[1] >= 0 && p[0] <= float64(w-1) && p[1] <= float64(h-1)
}

func inFrame(b *body, w, h int) int {
	n := 0
	for _, p := range b.j {
		if inside(p, w, h) {
			n++
		}
	}
	return n
}

// label fills the keypoints of person i from its body and the final owner
// and part maps: out of frame (or a face point seen from behind) is V = 0;
// hidden by an occluder, another person or another part of the same person
// is V = 1; otherwise V = 2. The box (on entry the
// pixel extent minX, minY, maxX, maxY) is padded and grown to hold every
// labeled keypoint.
func label(p *person, b *body, c *canvas, i int) {
	x0, y0, x1, y1 := p.Box[0], p.Box[1], p.Box[2], p.Box[3]
	if x1 < x0 { // nothing drawn in frame; cannot happen with minInFrame > 0
		x0, y0, x1, y1 = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	}
	for k, q := range b.j {
		if !inside(q, c.w, c.h) || (!b.front && (k == jNose || k == jLEye || k == jREye)) {
			p.Keypoints[k] = keypoint{}
			continue
		}
		v := 1
		px, py := int(math.Round(q[0])), int(math.Round(q[1]))
		if c.owner[py*c.w+px] == int8(i) && slices.Contains(jointParts[k], c.part[py*c.w+px]) {
			v = 2
		}
		p.Keypoints[k] = keypoint{X: round2(q[0]), Y: round2(q[1]), V: v}
		x0, y0 = min(x0, q[0]), min(y0, q[1])
		x1, y1 = max(x1, q[0]), max(y1, q[1])
	}
	pad := max(2, 0.03*max(x1-x0, y1-y0))
	x0, y0 = max(0, math.Floor(x0-pad)), max(0, math.Floor(y0-pad))
	x1, y1 = min(float64(c.w), math.Ceil(x1+pad)), min(float64(c.h), math.Ceil(y1+pad))
	p.Box = [4]float64{x0, y0, x1 - x0, y1 - y0}
	if p.Area <= 0 {
		p.Area = p.Box[2] * p.Box[3]
	}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// background paints a never-constant background: a gradient, low-frequency
// value noise and random textured clutter.
func background(c *canvas, r *rand.Rand) {
	w, h := c.w, c.h
	c0, c1, c2, c3 := randColour(r), randColour(r), randColour(r), randColour(r)
	for y := 0; y < h; y++ {
		fy := float32(y) / float32(h-1)
		left, right := c0.mix(c2, fy), c1.mix(c3, fy)
		for x := 0; x < w; x++ {
			col := left.mix(right, float32(x)/float32(w-1))
			i := 3 * (y*w + x)
			c.pix[i], c.pix[i+1], c.pix[i+2] = col.r, col.g, col.b
		}
	}
	valueNoise(c, r, 3+r.IntN(8), float32(uniform(r, 10, 45)))
	valueNoise(c, r, 12+r.IntN(20), float32(uniform(r, 4, 18)))
	fw, fh := float64(w), float64(h)
	size := min(fw, fh)
	for k := 4 + r.IntN(10); k > 0; k-- {
		cx, cy := uniform(r, -0.1, 1.1)*fw, uniform(r, -0.1, 1.1)*fh
		switch r.IntN(4) {
		case 0, 1:
			pts := rotRect(cx, cy, uniform(r, 0.1, 0.6)*size, uniform(r, 0.1, 0.6)*size, deg(uniform(r, -45, 45)))
			c.polygon(pts, randColour(r), texture(r), ownerNone)
		case 2:
			rad := uniform(r, 0.03, 0.25) * size
			c.ellipse(cx, cy, rad, rad*uniform(r, 0.5, 1), uniform(r, 0, math.Pi), randColour(r), float32(uniform(r, 0, 0.4)), ownerNone)
		default:
			a := uniform(r, 0, 2*math.Pi)
			l := uniform(r, 0.2, 1) * size
			c.capsule(cx, cy, cx+l*math.Cos(a), cy+l*math.Sin(a), uniform(r, 0.5, 3), randColour(r), 0, ownerNone)
		}
	}
}

// valueNoise adds bilinearly interpolated random values on a g x g grid
// with amplitude amp (per channel, partly correlated).
func valueNoise(c *canvas, r *rand.Rand, g int, amp float32) {
	gw, gh := g+1, g+1
	grid := make([]float32, 3*gw*gh)
	for i := 0; i < gw*gh; i++ {
		l := float32(uniform(r, -1, 1))
		for k := 0; k < 3; k++ {
			grid[3*i+k] = amp * (0.7*l + 0.3*float32(uniform(r, -1, 1)))
		}
	}
	sx, sy := float32(g)/float32(c.w), float32(g)/float32(c.h)
	for y := 0; y < c.h; y++ {
		gy := float32(y) * sy
		iy := min(int(gy), g-1)
		ty := gy - float32(iy)
		for x := 0; x < c.w; x++ {
			gx := float32(x) * sx
			ix := min(int(gx), g-1)
			tx := gx - float32(ix)
			i00, i10 := 3*(iy*gw+ix), 3*(iy*gw+ix+1)
			i01, i11 := 3*((iy+1)*gw+ix), 3*((iy+1)*gw+ix+1)
			p := 3 * (y*c.w + x)
			for k := 0; k < 3; k++ {
				a := grid[i00+k] + (grid[i10+k]-grid[i00+k])*tx
				b := grid[i01+k] + (grid[i11+k]-grid[i01+k])*tx
				c.pix[p+k] += a + (b-a)*ty
			}
		}
	}
}

// texture returns a random fill: solid (nil), stripes, checks or a
// gradient.
func texture(r *rand.Rand) func(x, y float64) rgb {
	a, b := randColour(r), randColour(r)
	period := uniform(r, 3, 16)
	ang := uniform(r, 0, math.Pi)
	cs, sn := math.Cos(ang), math.Sin(ang)
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return func(x, y float64) rgb {
			if math.Mod(math.Abs(x*cs+y*sn), 2*period) < period {
				return a
			}
			return b
		}
	case 2:
		return func(x, y float64) rgb {
			u, v := int(math.Floor((x*cs+y*sn)/period)), int(math.Floor((-x*sn+y*cs)/period))
			if (u+v)&1 == 0 {
				return a
			}
			return b
		}
	default:
		return func(x, y float64) rgb {
			t := 0.5 + 0.5*math.Sin((x*cs+y*sn)/(4*period))
			return a.mix(b, float32(t))
		}
	}
}

// distractors draws limb-like bars, bent "arms" and faceless head-like
// blobs that belong to nobody.
func distractors(c *canvas, r *rand.Rand) {
	size := float64(min(c.w, c.h))
	for k := 1 + r.IntN(5); k > 0; k-- {
		T := uniform(r, 0.1, 0.25) * size
		col := randColour(r)
		if r.Float64() < 0.4 {
			col = jitter(r, skinTones[r.IntN(len(skinTones))], 12)
		}
		p := vec{uniform(r, 0, 1) * float64(c.w), uniform(r, 0, 1) * float64(c.h)}
		rad := T * uniform(r, 0.07, 0.15)
		a := uniform(r, 0, 2*math.Pi)
		switch r.IntN(3) {
		case 0: // straight bar
			q := p.add(vec{math.Cos(a), math.Sin(a)}.mul(T * uniform(r, 0.5, 1)))
			c.capsule(p[0], p[1], q[0], q[1], rad, col, 0.35, ownerNone)
		case 1: // bent limb with a blob at the end
			q := p.add(vec{math.Cos(a), math.Sin(a)}.mul(T * uniform(r, 0.4, 0.8)))
			a += deg(uniform(r, -120, 120))
			s := q.add(vec{math.Cos(a), math.Sin(a)}.mul(T * uniform(r, 0.4, 0.8)))
			c.capsule(q[0], q[1], s[0], s[1], rad*0.85, col, 0.35, ownerNone)
			c.capsule(p[0], p[1], q[0], q[1], rad, col, 0.35, ownerNone)
			c.capsule(s[0], s[1], s[0], s[1], rad*1.2, col.scale(0.9), 0.35, ownerNone)
		default: // faceless head-like blob
			ry := T * uniform(r, 0.18, 0.26)
			c.ellipse(p[0], p[1], ry*0.85, ry, a, col, 0.3, ownerNone)
		}
	}
}

// occluder draws a textured rectangle over a random joint of b.
func occluder(c *canvas, r *rand.Rand, b *body) {
	q := b.j[r.IntN(numJoints)]
	T := b.T
	q = q.add(vec{uniform(r, -0.3, 0.3) * T, uniform(r, -0.3, 0.3) * T})
	pts := rotRect(q[0], q[1], uniform(r, 0.35, 1.1)*T, uniform(r, 0.35, 1.1)*T, deg(uniform(r, -25, 25)))
	c.polygon(pts, randColour(r), texture(r), ownerOccluder)
}

// pixelNoise returns per-pixel noise (3*w*h values) of a random strength:
// a triangular luminance part plus a smaller uniform colour part, both from
// one 64-bit draw per pixel.
func pixelNoise(r *rand.Rand, w, h int) []float32 {
	sigma := float32(uniform(r, 1.5, 7))
	lum := sigma * 2 / 0.41 * 0.8 / 2 // triangular on [-1, 1] has std 0.41
	col := sigma * 0.4 / 0.58 / 127.5 // uniform on [-1, 1] has std 0.58
	n := make([]float32, 3*w*h)
	for i := 0; i < w*h; i++ {
		u := r.Uint64()
		l := lum*(float32(u&0xffff)+float32(u>>16&0xffff))/65535 - lum
		n[3*i] = l + col*(float32(u>>32&0xff)-127.5)
		n[3*i+1] = l + col*(float32(u>>40&0xff)-127.5)
		n[3*i+2] = l + col*(float32(u>>48&0xff)-127.5)
	}
	return n
}
