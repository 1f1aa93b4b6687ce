package data

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
)

// Item is one person instance: where its image is and its annotation in
// image pixels.
type Item struct {
	ImagePath string
	ImageID   int64
	AnnID     int64
	Box       coco.Box        // [x, y, w, h], image pixels; w, h >= 1
	Keypoints []coco.Keypoint // len K, image pixels; V > 0 means labeled
}

// Items returns one Item per training person of ds (ds.Persons(): not
// crowd, at least one labeled joint), in file order, with image paths
// imagesDir/file_name. An annotation without a usable box gets the tight
// box of its labeled joints; boxes are widened to at least 1x1 pixel
// around their centre. Annotations whose image id is not in ds.Images
// are skipped (coco.Load already refuses them).
func Items(ds *coco.Dataset, imagesDir string) []Item {
	files := make(map[int64]string, len(ds.Images))
	for _, im := range ds.Images {
		files[im.ID] = im.FileName
	}
	persons := ds.Persons()
	out := make([]Item, 0, len(persons))
	for _, a := range persons {
		name, ok := files[a.ImageID]
		if !ok {
			continue
		}
		b := a.Box
		if !a.HasBox || !(b.W > 0 && b.H > 0) {
			b = keypointBox(a.Keypoints)
		}
		if !(b.W >= 1) {
			b.X -= (1 - b.W) / 2
			b.W = 1
		}
		if !(b.H >= 1) {
			b.Y -= (1 - b.H) / 2
			b.H = 1
		}
		out = append(out, Item{
			ImagePath: filepath.Join(imagesDir, filepath.FromSlash(name)),
			ImageID:   a.ImageID,
			AnnID:     a.ID,
			Box:       b,
			Keypoints: a.Keypoints,
		})
	}
	return out
}

// Aug is the random part of training augmentation (mmpose RandomFlip,
// RandomHalfBody and RandomBBoxTransform). Factors are drawn from a standard normal
// truncated to [-1, 1] (mmpose _truncnorm), so the scale stays in
// [1-ScaleFactor, 1+ScaleFactor] and the angle in [-RotFactor, RotFactor].
type Aug struct {
	ScaleFactor float64 // box scale multiplier 1 + ScaleFactor*t
	RotFactor   float64 // degrees, angle RotFactor*t
	RotProb     float64 // probability of a non-zero rotation
	FlipProb    float64 // probability of a horizontal flip
	ShiftFactor float64 // centre shift as a fraction of the padded box size, per axis
	ShiftProb   float64 // probability of a centre shift
	// HalfBodyProb is the probability of trying half-body augmentation
	// (mmpose RandomHalfBody): the region becomes the upper or the lower
	// body (Config.UpperBody), when the person has enough labeled joints.
	HalfBodyProb float64
}

// DefaultAug returns the recipe of issue 4: scale 0.75-1.25, rotation
// +-30 degrees with probability 0.6, horizontal flip 0.5, no shift, no
// half-body.
func DefaultAug() *Aug {
	return &Aug{ScaleFactor: 0.25, RotFactor: 30, RotProb: 0.6, FlipProb: 0.5}
}

// Params is one draw of the augmentation: the complete description of how
// one sample is transformed. The zero value (Scale 0 means 1) is no
// augmentation.
type Params struct {
	Scale          float64 // multiplies the region size; 0 or 1 = none
	Rot            float64 // degrees
	Flip           bool
	ShiftX, ShiftY float64 // centre shift, fraction of the region size
	HalfBody       bool    // try a half-body region (see Config.UpperBody)
	PreferUpper    bool    // with HalfBody: upper body when both halves qualify
}

// truncNorm returns a standard normal draw truncated to [-1, 1].
func truncNorm(r *rand.Rand) float64 {
	for {
		if v := r.NormFloat64(); v >= -1 && v <= 1 {
			return v
		}
	}
}

// Draw makes the random choices of one sample. It always consumes the
// random numbers in the same order: flip, shift, scale, rotation,
// half-body.
func (a *Aug) Draw(r *rand.Rand) Params {
	var p Params
	p.Flip = r.Float64() < a.FlipProb
	sx, sy := truncNorm(r), truncNorm(r)
	if r.Float64() < a.ShiftProb {
		p.ShiftX, p.ShiftY = sx*a.ShiftFactor, sy*a.ShiftFactor
	}
	p.Scale = 1 + truncNorm(r)*a.ScaleFactor
	rot := truncNorm(r) * a.RotFactor
	if r.Float64() < a.RotProb {
		p.Rot = rot
	}
	p.HalfBody = r.Float64() < a.HalfBodyProb
	p.PreferUpper = p.HalfBody && r.Float64() < HalfBodyUpperProb
	return p
}

// Half-body constants (mmpose RandomHalfBody defaults).
const (
	HalfBodyMinTotal  = 9   // labeled joints a person needs for half-body
	HalfBodyMinUpper  = 2   // labeled upper-body joints for an upper region
	HalfBodyMinLower  = 3   // labeled lower-body joints for a lower region
	HalfBodyPadding   = 1.5 // region padding around the chosen joints
	HalfBodyUpperProb = 0.7 // preference for the upper body
)

// UpperBodyJoints returns the indices of the upper-body joints of a
// schema: every joint whose name does not contain hip, knee, ankle,
// pelvis, foot, heel or toe (COCO: 0-10; LSP: 6-13).
func UpperBodyJoints(names []string) []int {
	var out []int
	for i, n := range names {
		n = strings.ToLower(n)
		lower := false
		for _, w := range []string{"hip", "knee", "ankle", "pelvis", "foot", "heel", "toe"} {
			if strings.Contains(n, w) {
				lower = true
				break
			}
		}
		if !lower {
			out = append(out, i)
		}
	}
	return out
}

// Sample is one person warped into the network input.
type Sample struct {
	Image     []float32       // 3*H*W, CHW, normalised
	Keypoints []heatmap.Point // len K, input pixels (after flip: in flipped order)
	Visible   []bool          // len K, labeled (V > 0)
	Affine    Affine          // image pixels -> input pixels
	Params    Params
}

// Config describes the network input and the loader.
type Config struct {
	InputW, InputH int        // network input size (default 96 x 128, w x h)
	Padding        float64    // box padding; 0 means DefaultPadding
	Mean, Std      [3]float32 // on 0..1; zero means ImageNet
	DropLast       bool       // drop the last incomplete batch
	CacheBytes     int64      // decoded image cache size in bytes; 0 = none
	Prefetch       int        // ready batches kept ahead; 0 means 2*workers
	// UpperBody lists the upper-body joints for half-body augmentation
	// (UpperBodyJoints(schema.Names)); the others are the lower body.
	// Without it Params.HalfBody has no effect.
	UpperBody []int
}

func (cfg Config) withDefaults() Config {
	if cfg.Padding == 0 {
		cfg.Padding = DefaultPadding
	}
	if cfg.Mean == ([3]float32{}) && cfg.Std == ([3]float32{}) {
		cfg.Mean, cfg.Std = ImageNetMean, ImageNetStd
	}
	return cfg
}

// Validate reports whether cfg is usable (after defaults).
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	switch {
	case cfg.InputW <= 0 || cfg.InputH <= 0:
		return fmt.Errorf("data: input size %dx%d (w x h) must be positive", cfg.InputW, cfg.InputH)
	case !(cfg.Padding > 0) || math.IsInf(cfg.Padding, 0):
		return fmt.Errorf("data: padding %v must be positive", cfg.Padding)
	case !(cfg.Std[0] > 0 && cfg.Std[1] > 0 && cfg.Std[2] > 0):
		return fmt.Errorf("data: std %v must be positive", cfg.Std)
	case cfg.Prefetch < 0:
		return fmt.Errorf("data: prefetch %d must not be negative", cfg.Prefetch)
	}
	return nil
}

// Transform returns the map from image pixels to input pixels for it
// under augmentation p (mmpose GetBBoxCenterScale, RandomHalfBody,
// RandomBBoxTransform and TopdownAffine).
func (cfg Config) Transform(it Item, p Params) Affine {
	cfg = cfg.withDefaults()
	aspect := float64(cfg.InputW) / float64(cfg.InputH)
	center, scale := CenterScale(it.Box, aspect, cfg.Padding)
	if p.HalfBody {
		if c, s, ok := halfBody(it.Keypoints, cfg.UpperBody, p.PreferUpper, aspect); ok {
			center, scale = c, s
		}
	}
	center[0] += p.ShiftX * scale[0]
	center[1] += p.ShiftY * scale[1]
	if p.Scale != 0 {
		scale[0] *= p.Scale
		scale[1] *= p.Scale
	}
	return WarpMatrix(center, scale, p.Rot, p.Flip, cfg.InputW, cfg.InputH)
}

// halfBody returns the half-body region of mmpose RandomHalfBody: the
// mean and the padded extent of the labeled joints of one half, or false
// when the person does not qualify.
func halfBody(kps []coco.Keypoint, upper []int, preferUpper bool, aspect float64) (center, scale [2]float64, ok bool) {
	if len(upper) == 0 {
		return center, scale, false
	}
	isUpper := func(i int) bool { return slices.Contains(upper, i) }
	var total, nUp, nLow int
	for i, k := range kps {
		if !k.Labeled() {
			continue
		}
		total++
		if isUpper(i) {
			nUp++
		} else {
			nLow++
		}
	}
	if total < HalfBodyMinTotal {
		return center, scale, false
	}
	var useUpper bool
	switch {
	case nUp < HalfBodyMinUpper && nLow < HalfBodyMinLower:
		return center, scale, false
	case nLow < HalfBodyMinLower:
		useUpper = true
	case nUp < HalfBodyMinUpper:
		useUpper = false
	default:
		useUpper = preferUpper
	}
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	var sx, sy float64
	var n int
	for i, k := range kps {
		if !k.Labeled() || isUpper(i) != useUpper {
			continue
		}
		sx, sy, n = sx+k.X, sy+k.Y, n+1
		x0, y0 = math.Min(x0, k.X), math.Min(y0, k.Y)
		x1, y1 = math.Max(x1, k.X), math.Max(y1, k.Y)
	}
	w, h := (x1-x0)*HalfBodyPadding, (y1-y0)*HalfBodyPadding
	if w > h*aspect {
		h = w / aspect
	} else {
		w = h * aspect
	}
	if !(w > 0 && h > 0) {
		return center, scale, false
	}
	return [2]float64{sx / float64(n), sy / float64(n)}, [2]float64{w, h}, true
}

// Apply builds the sample of it from its decoded image under p: the pure,
// deterministic half of augmentation. With p.Flip the joints are also
// renamed through flipPairs (0-based (left, right) pairs), so
// dst.Keypoints[k] is the mirrored location of the joint that becomes k.
//
// dst's slices are reused when they have the right length (Image
// 3*InputH*InputW, Keypoints and Visible len K) and allocated otherwise.
// It panics if a flip pair is outside [0, K).
func (cfg Config) Apply(dst *Sample, img image.Image, it Item, p Params, flipPairs [][2]int) {
	cfg = cfg.withDefaults()
	K := len(it.Keypoints)
	if len(dst.Image) != 3*cfg.InputW*cfg.InputH {
		dst.Image = make([]float32, 3*cfg.InputW*cfg.InputH)
	}
	if len(dst.Keypoints) != K {
		dst.Keypoints = make([]heatmap.Point, K)
	}
	if len(dst.Visible) != K {
		dst.Visible = make([]bool, K)
	}
	m := cfg.Transform(it, p)
	dst.Affine, dst.Params = m, p
	Warp(dst.Image, img, m, cfg.InputW, cfg.InputH, cfg.Mean, cfg.Std)
	for k, kp := range it.Keypoints {
		x, y := m.Apply(kp.X, kp.Y)
		dst.Keypoints[k] = heatmap.Point{X: x, Y: y}
		dst.Visible[k] = kp.Labeled()
	}
	if p.Flip {
		for _, fp := range flipPairs {
			a, b := fp[0], fp[1]
			if a < 0 || a >= K || b < 0 || b >= K {
				panic(fmt.Sprintf("data: Apply: flip pair %v outside [0, %d)", fp, K))
			}
			dst.Keypoints[a], dst.Keypoints[b] = dst.Keypoints[b], dst.Keypoints[a]
			dst.Visible[a], dst.Visible[b] = dst.Visible[b], dst.Visible[a]
		}
	}
}
