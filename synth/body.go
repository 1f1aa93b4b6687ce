package synth

import (
	"math"
	"math/rand/v2"
)

// Joint indices of the COCO 17-keypoint schema.
const (
	jNose = iota
	jLEye
	jREye
	jLEar
	jREar
	jLShoulder
	jRShoulder
	jLElbow
	jRElbow
	jLWrist
	jRWrist
	jLHip
	jRHip
	jLKnee
	jRKnee
	jLAnkle
	jRAnkle
	numJoints
)

// keypointNames are the standard COCO person keypoint names, in order.
var keypointNames = [numJoints]string{
	"nose", "left_eye", "right_eye", "left_ear", "right_ear",
	"left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
	"left_wrist", "right_wrist", "left_hip", "right_hip",
	"left_knee", "right_knee", "left_ankle", "right_ankle",
}

// skeleton is the official COCO person skeleton, 1-based as in the files.
var skeleton = [][2]int{
	{16, 14}, {14, 12}, {17, 15}, {15, 13}, {12, 13}, {6, 12}, {7, 13}, {6, 7},
	{6, 8}, {7, 9}, {8, 10}, {9, 11}, {2, 3}, {1, 2}, {1, 3}, {2, 4}, {3, 5},
	{4, 6}, {5, 7},
}

type vec [2]float64

func (a vec) add(b vec) vec     { return vec{a[0] + b[0], a[1] + b[1]} }
func (a vec) sub(b vec) vec     { return vec{a[0] - b[0], a[1] - b[1]} }
func (a vec) mul(s float64) vec { return vec{a[0] * s, a[1] * s} }
func (a vec) rot(theta float64) vec { // counter-clockwise on screen is negative theta (y down)
	c, s := math.Cos(theta), math.Sin(theta)
	return vec{a[0]*c - a[1]*s, a[0]*s + a[1]*c}
}

func deg(d float64) float64 { return d * math.Pi / 180 }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Body parts recorded in the canvas part map, to tell a joint seen on its
// own limb from one hidden behind another limb of the same person.
const (
	partNone uint8 = iota
	partTorso
	partNeck
	partHead
	partLEar
	partREar
	partLUpperArm
	partRUpperArm
	partLForearm
	partRForearm
	partLThigh
	partRThigh
	partLShin
	partRShin
)

// jointParts lists, per joint, the parts on which the joint counts as
// visible.
var jointParts = [numJoints][]uint8{
	jNose:      {partHead},
	jLEye:      {partHead},
	jREye:      {partHead},
	jLEar:      {partLEar, partHead},
	jREar:      {partREar, partHead},
	jLShoulder: {partTorso, partLUpperArm},
	jRShoulder: {partTorso, partRUpperArm},
	jLElbow:    {partLUpperArm, partLForearm},
	jRElbow:    {partRUpperArm, partRForearm},
	jLWrist:    {partLForearm},
	jRWrist:    {partRForearm},
	jLHip:      {partTorso, partLThigh},
	jRHip:      {partTorso, partRThigh},
	jLKnee:     {partLThigh, partLShin},
	jRKnee:     {partRThigh, partRShin},
	jLAnkle:    {partLShin},
	jRAnkle:    {partRShin},
}

// body is one posed person in image pixels, with everything needed to
// draw it.
type body struct {
	j     [numJoints]vec // joint positions in image pixels
	front bool           // facing the camera: the person's left is on the image right

	T         float64 // torso length in pixels
	headC     vec
	headRx    float64
	headRy    float64
	headTheta float64
	neckBase  vec

	rUpperArm, rForearm, rThigh, rShin float64
	armBehind                          [2]bool // left, right arm drawn behind the torso

	skin, shirt, pants, shoes, hair rgb
	longSleeves, longPants          bool
}

// sidedDir returns the unit direction of a limb at angle phi away from
// "down" in the body frame, bent outwards for side +1 (person's left, +x
// in the front-view frame) and -1 (right).
func sidedDir(phi float64, side float64) vec {
	return vec{side * math.Sin(phi), math.Cos(phi)}
}

// samplePose draws joint angles within human limits and returns the joint
// positions in the person frame: pelvis at the origin, y down, torso length
// 1, person's left on +x (front view), plus head geometry.
func samplePose(r *rand.Rand) (j [numJoints]vec, headC vec, headRx, headRy, headTheta float64, neck vec) {
	mode := r.Float64()
	lean := deg(uniform(r, -12, 12))
	up := vec{0, -1}.rot(lean)
	neck = up
	across := vec{1, 0}.rot(lean + deg(uniform(r, -6, 6)))
	sw := uniform(r, 0.30, 0.42)
	hw := uniform(r, 0.17, 0.25)
	j[jLShoulder] = neck.add(across.mul(sw))
	j[jRShoulder] = neck.sub(across.mul(sw))
	hipAcross := vec{1, 0}.rot(lean*0.3 + deg(uniform(r, -5, 5)))
	j[jLHip] = hipAcross.mul(hw)
	j[jRHip] = hipAcross.mul(-hw)

	fore := func(p float64) float64 { // foreshortening factor
		if r.Float64() < p {
			return uniform(r, 0.5, 0.9)
		}
		return uniform(r, 0.92, 1)
	}
	sign := func() float64 {
		if r.Float64() < 0.5 {
			return -1
		}
		return 1
	}
	upperArm, forearm := uniform(r, 0.52, 0.62), uniform(r, 0.46, 0.56)
	thigh, shin := uniform(r, 0.80, 0.92), uniform(r, 0.74, 0.86)
	for k, side := range [2]float64{1, -1} {
		var phiS, phiE, phiH, phiK float64
		ft := fore(0.2)
		switch {
		case mode < 0.45: // standing
			phiS, phiE = uniform(r, -8, 40), uniform(r, 0, 60)
			phiH, phiK = uniform(r, -6, 18), uniform(r, 0, 20)
		case mode < 0.85: // active: reaching, waving, kicking, running
			phiS, phiE = uniform(r, -20, 170), uniform(r, 0, 145)
			u := r.Float64()
			phiH, phiK = uniform(r, -12, 25+45*u*u), 120*r.Float64()*r.Float64()
		default: // sitting or crouching: thighs foreshortened
			phiS, phiE = uniform(r, -15, 90), uniform(r, 0, 130)
			phiH, phiK = uniform(r, -8, 40), uniform(r, 0, 70)
			ft = uniform(r, 0.3, 0.6)
		}
		sho, hip := j[jLShoulder+k], j[jLHip+k]
		dS := sidedDir(deg(phiS), side).rot(lean)
		dE := sidedDir(deg(phiS)+sign()*deg(phiE), side).rot(lean)
		elb := sho.add(dS.mul(upperArm * fore(0.3)))
		wri := elb.add(dE.mul(forearm * fore(0.3)))
		dH := sidedDir(deg(phiH), side).rot(lean * 0.3)
		kne := hip.add(dH.mul(thigh * ft))
		dK := sidedDir(deg(phiH)+sign()*deg(phiK), side).rot(lean * 0.3)
		ank := kne.add(dK.mul(shin * fore(0.2)))
		j[jLElbow+k], j[jLWrist+k], j[jLKnee+k], j[jLAnkle+k] = elb, wri, kne, ank
	}

	tilt := lean + deg(uniform(r, -20, 20))
	headRy = uniform(r, 0.20, 0.25)
	headRx = headRy * uniform(r, 0.78, 0.9)
	headC = neck.add(vec{0, -1}.rot(tilt).mul(uniform(r, 0.36, 0.44)))
	headTheta = tilt
	yaw := uniform(r, -0.3, 0.3)
	face := func(x, y float64) vec { return headC.add(vec{x * headRx, y * headRy}.rot(tilt)) }
	j[jNose] = face(0.5*yaw, 0.22)
	j[jLEye] = face(0.36+0.4*yaw, -0.08)
	j[jREye] = face(-0.36+0.4*yaw, -0.08)
	j[jLEar] = face(0.97+0.1*yaw, 0.02)
	j[jREar] = face(-0.97+0.1*yaw, 0.02)
	return
}

var skinTones = []rgb{
	{255, 224, 196}, {241, 194, 125}, {224, 172, 105}, {198, 134, 66},
	{141, 85, 36}, {92, 56, 30}, {234, 192, 160}, {170, 120, 90},
}

// hsv converts hue (0..1), saturation and value (0..1) to rgb 0..255.
func hsv(h, s, v float64) rgb {
	h = math.Mod(h, 1) * 6
	i := math.Floor(h)
	f := h - i
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var r, g, b float64
	switch int(i) {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return rgb{float32(255 * r), float32(255 * g), float32(255 * b)}
}

func randColour(r *rand.Rand) rgb {
	return hsv(r.Float64(), uniform(r, 0.25, 0.95), uniform(r, 0.25, 0.95))
}

func jitter(r *rand.Rand, c rgb, a float64) rgb {
	return rgb{
		float32(min(max(float64(c.r)+uniform(r, -a, a), 0), 255)),
		float32(min(max(float64(c.g)+uniform(r, -a, a), 0), 255)),
		float32(min(max(float64(c.b)+uniform(r, -a, a), 0), 255)),
	}
}

// newBody samples a pose and appearance and places the person with torso
// length T pixels, in-plane rotation theta and body centre c.
func newBody(r *rand.Rand, T, theta float64, c vec, backProb float64) *body {
	j, hc, hrx, hry, hth, neck := samplePose(r)
	b := &body{front: r.Float64() >= backProb, T: T}
	// Centre of the frame-space extent.
	lo, hi := vec{math.Inf(1), math.Inf(1)}, vec{math.Inf(-1), math.Inf(-1)}
	for _, p := range j {
		lo = vec{min(lo[0], p[0]), min(lo[1], p[1])}
		hi = vec{max(hi[0], p[0]), max(hi[1], p[1])}
	}
	mid := lo.add(hi).mul(0.5)
	mirror := 1.0
	if !b.front {
		mirror = -1 // seen from the back: the person's left is on the image left
	}
	tf := func(p vec) vec {
		q := p.sub(mid)
		q[0] *= mirror
		return c.add(q.mul(T).rot(theta))
	}
	for i, p := range j {
		b.j[i] = tf(p)
	}
	b.headC = tf(hc)
	b.neckBase = tf(neck)
	b.headRx, b.headRy = hrx*T, hry*T
	b.headTheta = theta + mirror*hth

	build := uniform(r, 0.8, 1.2)
	b.rUpperArm = T * build * uniform(r, 0.085, 0.11)
	b.rForearm = T * build * uniform(r, 0.065, 0.09)
	b.rThigh = T * build * uniform(r, 0.11, 0.145)
	b.rShin = T * build * uniform(r, 0.08, 0.11)
	b.armBehind = [2]bool{r.Float64() < 0.1, r.Float64() < 0.1}
	b.skin = jitter(r, skinTones[r.IntN(len(skinTones))], 12)
	b.shirt = randColour(r)
	b.pants = randColour(r)
	b.shoes = hsv(r.Float64(), uniform(r, 0, 0.5), uniform(r, 0.08, 0.4))
	b.hair = hsv(uniform(r, 0.02, 0.12), uniform(r, 0.3, 0.9), uniform(r, 0.05, 0.6))
	b.longSleeves = r.Float64() < 0.5
	b.longPants = r.Float64() < 0.7
	return b
}

// draw renders the person with owner code o.
func (b *body) draw(c *canvas, o int8) {
	const shade = 0.35
	j := b.j
	armCol := b.skin
	if b.longSleeves {
		armCol = b.shirt
	}
	shinCol := b.skin
	if b.longPants {
		shinCol = b.pants
	}
	arm := func(k int) {
		sho, elb, wri := j[jLShoulder+k], j[jLElbow+k], j[jLWrist+k]
		c.cur = partLForearm + uint8(k)
		c.capsule(elb[0], elb[1], wri[0], wri[1], b.rForearm, armCol, shade, o)
		c.capsule(wri[0], wri[1], wri[0], wri[1], b.rForearm*1.25, b.skin, shade, o) // hand
		c.cur = partLUpperArm + uint8(k)
		c.capsule(sho[0], sho[1], elb[0], elb[1], b.rUpperArm, b.shirt, shade, o)
	}
	// Legs.
	for k := 0; k < 2; k++ {
		hip, kne, ank := j[jLHip+k], j[jLKnee+k], j[jLAnkle+k]
		// Foot: a short dark bar continuing the shin.
		d := ank.sub(kne)
		if l := math.Hypot(d[0], d[1]); l > 0 {
			d = d.mul(b.rShin * 1.2 / l)
		}
		toe := ank.add(d)
		c.cur = partLShin + uint8(k)
		c.capsule(ank[0], ank[1], toe[0], toe[1], b.rShin*0.9, b.shoes, shade, o)
		c.capsule(kne[0], kne[1], ank[0], ank[1], b.rShin, shinCol, shade, o)
		c.cur = partLThigh + uint8(k)
		c.capsule(hip[0], hip[1], kne[0], kne[1], b.rThigh, b.pants, shade, o)
	}
	for k := 0; k < 2; k++ {
		if b.armBehind[k] {
			arm(k)
		}
	}
	// Torso: trapezoid from the shoulders to the hips; pants below the waist.
	ls, rs, lh, rh := j[jLShoulder], j[jRShoulder], j[jLHip], j[jRHip]
	out := func(p, q vec, r float64) vec { // push p away from q by r
		d := p.sub(q)
		l := math.Hypot(d[0], d[1])
		if l == 0 {
			return p
		}
		return p.add(d.mul(r / l))
	}
	ls2, rs2 := out(ls, rs, b.rUpperArm*0.6), out(rs, ls, b.rUpperArm*0.6)
	lh2, rh2 := out(lh, rh, b.rThigh*0.8), out(rh, lh, b.rThigh*0.8)
	lw, rw := ls2.mul(0.3).add(lh2.mul(0.7)), rs2.mul(0.3).add(rh2.mul(0.7))
	c.cur = partTorso
	c.polygon([][2]float64{lw, rw, rh2, lh2}, b.pants, nil, o)
	c.polygon([][2]float64{ls2, rs2, rw, lw}, b.shirt, nil, o)
	c.capsule(ls[0], ls[1], rs[0], rs[1], b.rUpperArm, b.shirt, 0, o) // rounded shoulders
	// Neck and head.
	nb, hc := b.neckBase, b.headC
	c.cur = partNeck
	c.capsule(nb[0], nb[1], hc[0], hc[1], b.headRx*0.38, b.skin.scale(0.85), 0.2, o)
	for k := 0; k < 2; k++ {
		if !b.armBehind[k] {
			arm(k)
		}
	}
	rx, ry, th := b.headRx, b.headRy, b.headTheta
	at := func(x, y float64) vec { return hc.add(vec{x * rx, y * ry}.rot(th)) }
	for k, e := range []vec{j[jLEar], j[jREar]} {
		c.cur = partLEar + uint8(k)
		c.ellipse(e[0], e[1], rx*0.17, ry*0.2, th, b.skin.scale(0.9), 0.2, o)
	}
	c.cur = partHead
	if b.front {
		h := at(0, -0.1)
		c.ellipse(h[0], h[1], rx*1.04, ry*1.0, th, b.hair, 0.2, o)
		f := at(0, 0.08)
		c.ellipse(f[0], f[1], rx*0.9, ry*0.9, th, b.skin, 0.25, o)
		for _, e := range []vec{j[jLEye], j[jREye]} {
			c.ellipse(e[0], e[1], rx*0.17, ry*0.11, th, rgb{245, 245, 240}, 0, o)
			c.ellipse(e[0], e[1], rx*0.08, rx*0.08, th, rgb{30, 25, 20}, 0, o)
		}
		n := j[jNose]
		c.ellipse(n[0], n[1], rx*0.1, ry*0.1, th, b.skin.scale(0.7), 0, o)
		m0, m1 := at(-0.22, 0.5), at(0.22, 0.5)
		c.capsule(m0[0], m0[1], m1[0], m1[1], max(0.6, rx*0.05), rgb{120, 40, 40}, 0, o)
	} else {
		h := at(0, 0)
		c.ellipse(h[0], h[1], rx, ry, th, b.hair, 0.3, o)
	}
	c.cur = partNone
}
