package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/internal/shareddata"
)

var cfg128 = Config{InputW: 96, InputH: 128}

// lspetPairs are LSPET's flip pairs (see the dataset README).
var lspetPairs = [][2]int{{0, 5}, {1, 4}, {2, 3}, {6, 11}, {7, 10}, {8, 9}}

// lspetVal loads the LSPET val split through coco.Load and returns its
// items and schema flip pairs.
func lspetVal(tb testing.TB) ([]Item, [][2]int) {
	tb.Helper()
	dir := shareddata.Dir(tb, "lspet")
	ds, err := coco.Load(filepath.Join(dir, "annotations", "lspet_val.json"))
	if err != nil {
		tb.Fatal(err)
	}
	items := Items(ds, filepath.Join(dir, "images"))
	if len(items) != 497 {
		tb.Fatalf("lspet val: %d items, want 497", len(items))
	}
	return items, ds.Schema.FlipPairs
}

func TestItems(t *testing.T) {
	kp := func(v ...int) []coco.Keypoint {
		out := make([]coco.Keypoint, len(v))
		for i, x := range v {
			out[i] = coco.Keypoint{X: float64(10 * (i + 1)), Y: float64(5 * (i + 1)), V: x}
		}
		return out
	}
	ds := &coco.Dataset{
		Images: []coco.Image{{ID: 1, FileName: "a.jpg"}, {ID: 2, FileName: "sub/b.png"}},
		Annotations: []coco.Annotation{
			{ID: 10, ImageID: 1, Keypoints: kp(2, 0, 1), NumKeypoints: 2, Box: coco.Box{X: 1, Y: 2, W: 30, H: 40}, HasBox: true},
			{ID: 11, ImageID: 1, Keypoints: kp(2, 0, 0), NumKeypoints: 1, Crowd: true, HasBox: true, Box: coco.Box{W: 5, H: 5}},
			{ID: 12, ImageID: 2, Keypoints: kp(0, 0, 0), NumKeypoints: 0, HasBox: true, Box: coco.Box{W: 5, H: 5}},
			{ID: 13, ImageID: 2, Keypoints: kp(1, 2, 0), NumKeypoints: 2},                                     // no box
			{ID: 14, ImageID: 2, Keypoints: kp(0, 0, 2), NumKeypoints: 1, HasBox: true, Box: coco.Box{X: 50}}, // empty box
		},
	}
	items := Items(ds, "/imgs")
	want := []struct {
		ann  int64
		path string
		box  coco.Box
	}{
		{10, "/imgs/a.jpg", coco.Box{X: 1, Y: 2, W: 30, H: 40}},
		{13, filepath.Join("/imgs", "sub", "b.png"), coco.Box{X: 10, Y: 5, W: 10, H: 5}},
		{14, filepath.Join("/imgs", "sub", "b.png"), coco.Box{X: 29.5, Y: 14.5, W: 1, H: 1}},
	}
	if len(items) != len(want) {
		t.Fatalf("Items returned %d items, want %d: %+v", len(items), len(want), items)
	}
	for i, w := range want {
		if it := items[i]; it.AnnID != w.ann || it.ImagePath != w.path || it.Box != w.box || len(it.Keypoints) != 3 {
			t.Errorf("item %d = %+v, want ann %d path %s box %v", i, it, w.ann, w.path, w.box)
		}
	}
}

func TestDraw(t *testing.T) {
	a := DefaultAug()
	r := rand.New(rand.NewPCG(7, 8))
	const n = 4000
	var flips, rots int
	var sumScale float64
	for range n {
		p := a.Draw(r)
		if p.Scale < 0.75 || p.Scale > 1.25 {
			t.Fatalf("scale %v outside [0.75, 1.25]", p.Scale)
		}
		if math.Abs(p.Rot) > 30 {
			t.Fatalf("rotation %v outside [-30, 30]", p.Rot)
		}
		if p.ShiftX != 0 || p.ShiftY != 0 {
			t.Fatalf("shift %v, %v with ShiftProb 0", p.ShiftX, p.ShiftY)
		}
		if p.Flip {
			flips++
		}
		if p.Rot != 0 {
			rots++
		}
		sumScale += p.Scale
	}
	// Binomial standard deviations are about 0.008; allow 5 of them.
	if f := float64(flips) / n; math.Abs(f-0.5) > 0.04 {
		t.Errorf("flip rate %v, want 0.5", f)
	}
	if f := float64(rots) / n; math.Abs(f-0.6) > 0.04 {
		t.Errorf("rotation rate %v, want 0.6", f)
	}
	if m := sumScale / n; math.Abs(m-1) > 0.01 {
		t.Errorf("mean scale %v, want 1", m)
	}
	// Same source, same draws.
	p1 := a.Draw(rand.New(rand.NewPCG(1, 1)))
	p2 := a.Draw(rand.New(rand.NewPCG(1, 1)))
	if p1 != p2 {
		t.Errorf("Draw is not deterministic: %+v != %+v", p1, p2)
	}
}

// dotImage is a w x h grey image with bright dots at pts.
func dotImage(w, h int, pts [][2]int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 40
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	for _, p := range pts {
		img.SetNRGBA(p[0], p[1], color.NRGBA{255, 255, 255, 255})
	}
	return img
}

// TestApplyDots: under scale, rotation and flip, the brightest input pixel
// around each warped keypoint is at its location, so image and keypoints
// share one transform.
func TestApplyDots(t *testing.T) {
	pts := [][2]int{{60, 80}, {130, 200}, {90, 150}}
	img := dotImage(200, 260, pts)
	it := Item{Box: coco.Box{X: 50, Y: 70, W: 100, H: 150}}
	for _, p := range pts {
		it.Keypoints = append(it.Keypoints, coco.Keypoint{X: float64(p[0]), Y: float64(p[1]), V: 2})
	}
	pairs := [][2]int{{0, 1}}
	tests := []struct {
		name string
		p    Params
	}{
		{"none", Params{}},
		{"scale", Params{Scale: 0.8}},
		{"rotate", Params{Rot: 27}},
		{"flip", Params{Flip: true}},
		{"all", Params{Scale: 0.8, Rot: -22, Flip: true, ShiftX: 0.05}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Sample
			cfg128.Apply(&s, img, it, tt.p, pairs)
			plane := s.Image[:96*128] // red
			var inside int
			for k, kp := range s.Keypoints {
				src := k
				if tt.p.Flip && k < 2 {
					src = 1 - k
				}
				if !s.Visible[k] {
					t.Errorf("joint %d not visible", k)
				}
				if kp.X < 1 || kp.Y < 1 || kp.X > 94 || kp.Y > 126 {
					continue // warped out of the input
				}
				inside++
				x, y := int(math.Round(kp.X)), int(math.Round(kp.Y))
				bx, by, bv := -1, -1, float32(math.Inf(-1))
				for yy := y - 3; yy <= y+3; yy++ {
					for xx := x - 3; xx <= x+3; xx++ {
						if xx >= 0 && yy >= 0 && xx < 96 && yy < 128 && plane[yy*96+xx] > bv {
							bx, by, bv = xx, yy, plane[yy*96+xx]
						}
					}
				}
				if math.Abs(float64(bx)-kp.X) > 1 || math.Abs(float64(by)-kp.Y) > 1 {
					t.Errorf("joint %d (source %d) at %v, brightest pixel at (%d, %d)", k, src, kp, bx, by)
				}
				// the inverse affine recovers the source point
				back := s.Affine.Invert().ApplyPoint(kp)
				if !near(back.X, float64(pts[src][0]), 1e-9) || !near(back.Y, float64(pts[src][1]), 1e-9) {
					t.Errorf("joint %d maps back to %v, want %v", k, back, pts[src])
				}
			}
			if inside < 2 {
				t.Errorf("only %d joints inside the input", inside)
			}
		})
	}
}

// TestFlipConsistency: the flipped sample is the mirror image of the plain
// one, with the paired joints swapped.
func TestFlipConsistency(t *testing.T) {
	items, pairs := lspetVal(t)
	for _, it := range items[:5] {
		img, err := DecodeImage(it.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		var a, b Sample
		p := Params{Scale: 1.1, Rot: 12}
		cfg128.Apply(&a, img, it, p, pairs)
		p.Flip = true
		cfg128.Apply(&b, img, it, p, pairs)
		const W, H = 96, 128
		for c := range 3 {
			for y := range H {
				for x := range W {
					u, v := a.Image[(c*H+y)*W+x], b.Image[(c*H+y)*W+W-1-x]
					if math.Abs(float64(u-v)) > 1e-4 {
						t.Fatalf("%s: pixel (%d,%d,%d) = %v, flipped %v", it.ImagePath, c, y, x, u, v)
					}
				}
			}
		}
		partner := make([]int, len(it.Keypoints))
		for k := range partner {
			partner[k] = k
		}
		for _, fp := range pairs {
			partner[fp[0]], partner[fp[1]] = fp[1], fp[0]
		}
		for k := range b.Keypoints {
			q := a.Keypoints[partner[k]]
			if !near(b.Keypoints[k].X, W-1-q.X, 1e-9) || !near(b.Keypoints[k].Y, q.Y, 1e-9) || b.Visible[k] != a.Visible[partner[k]] {
				t.Errorf("%s joint %d: flipped %v, want mirror of %v", it.ImagePath, k, b.Keypoints[k], q)
			}
		}
	}
}

// TestRoundTripLSPET: unaugmented samples of real images, encoded and
// decoded, map back to the annotated image keypoints; the heatmap peaks
// where the warped keypoints are.
func TestRoundTripLSPET(t *testing.T) {
	items, pairs := lspetVal(t)
	tests := []struct {
		name  string
		codec heatmap.MSRA
		tolHM float64 // heatmap pixels
	}{
		{"plain", heatmap.NewMSRA(96, 128), 0.5},
		{"DARK", heatmap.MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var checked int
			for _, it := range items[:20] {
				img, err := DecodeImage(it.ImagePath)
				if err != nil {
					t.Fatal(err)
				}
				var s Sample
				cfg128.Apply(&s, img, it, Params{}, pairs)
				K := len(s.Keypoints)
				hm := make([]float32, K*32*24)
				w := tt.codec.Encode(hm, s.Keypoints, s.Visible)
				pts, _ := tt.codec.Decode(hm)
				inv := s.Affine.Invert()
				// heatmap px -> input px (x4) -> image px (/ input px per image px)
				tol := tt.tolHM*4/math.Sqrt(math.Abs(s.Affine.Det())) + 1e-6
				for k, kp := range it.Keypoints {
					if !kp.Labeled() {
						if w[k] != 0 {
							t.Errorf("%s joint %d unlabeled with weight %v", it.ImagePath, k, w[k])
						}
						continue
					}
					if w[k] != 1 {
						t.Errorf("%s joint %d labeled with weight %v", it.ImagePath, k, w[k])
						continue
					}
					back := inv.ApplyPoint(pts[k])
					if math.Abs(back.X-kp.X) > tol || math.Abs(back.Y-kp.Y) > tol {
						t.Errorf("%s joint %d: %v decoded back to %v (tol %.2f image px)", it.ImagePath, k, kp, back, tol)
					}
					checked++
				}
			}
			if checked < 200 {
				t.Errorf("only %d joints checked", checked)
			}
		})
	}
}

var lspNames = []string{"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
	"right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"}

func TestUpperBodyJoints(t *testing.T) {
	coco17 := []string{"nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
		"left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
		"left_ankle", "right_ankle"}
	tests := []struct {
		name  string
		names []string
		want  []int
	}{
		{"COCO", coco17, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"LSP", lspNames, []int{6, 7, 8, 9, 10, 11, 12, 13}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpperBodyJoints(tt.names); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("UpperBodyJoints = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHalfBody: a standing LSP person; the upper-body region keeps the
// upper joints in the input and pushes the ankles out, the lower-body
// region the reverse; too few labeled joints keep the whole box.
func TestHalfBody(t *testing.T) {
	// x, y per LSP joint: a 200 px tall person, head at the top.
	xy := [][2]float64{{90, 290}, {92, 240}, {95, 190}, {115, 190}, {118, 240}, {120, 290},
		{70, 170}, {75, 140}, {85, 110}, {125, 110}, {135, 140}, {140, 170}, {105, 100}, {105, 90}}
	it := Item{Box: coco.Box{X: 60, Y: 85, W: 90, H: 210}}
	for _, p := range xy {
		it.Keypoints = append(it.Keypoints, coco.Keypoint{X: p[0], Y: p[1], V: 2})
	}
	cfg := cfg128
	cfg.UpperBody = UpperBodyJoints(lspNames)
	inside := func(m Affine, k int) bool {
		x, y := m.Apply(it.Keypoints[k].X, it.Keypoints[k].Y)
		return x >= 0 && y >= 0 && x <= 95 && y <= 127
	}
	few := it
	few.Keypoints = append([]coco.Keypoint(nil), it.Keypoints...)
	for k := range 6 {
		few.Keypoints[k].V = 0 // 8 labeled < HalfBodyMinTotal
	}
	tests := []struct {
		name    string
		it      Item
		p       Params
		in, out []int
		whole   bool // same as no half-body
	}{
		{"upper", it, Params{HalfBody: true, PreferUpper: true}, []int{6, 8, 11, 12, 13}, []int{0, 5}, false},
		{"lower", it, Params{HalfBody: true}, []int{0, 2, 5}, []int{13}, false},
		{"too few joints", few, Params{HalfBody: true, PreferUpper: true}, nil, nil, true},
	}
	whole := cfg.Transform(it, Params{})
	for k := range it.Keypoints {
		if !inside(whole, k) {
			t.Fatalf("joint %d outside the whole-body input", k)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := cfg.Transform(tt.it, tt.p)
			if tt.whole != (m == cfg.Transform(tt.it, Params{})) {
				t.Errorf("whole-body region = %v, want %v", !tt.whole, tt.whole)
			}
			for _, k := range tt.in {
				if !inside(m, k) {
					t.Errorf("joint %d (%s) outside", k, lspNames[k])
				}
			}
			for _, k := range tt.out {
				if inside(m, k) {
					t.Errorf("joint %d (%s) inside", k, lspNames[k])
				}
			}
		})
	}
	// Without UpperBody the flag has no effect.
	if cfg128.Transform(it, Params{HalfBody: true, PreferUpper: true}) != whole {
		t.Errorf("HalfBody without Config.UpperBody changed the region")
	}
	// Draw: the half-body rate follows HalfBodyProb.
	a := DefaultAug()
	a.HalfBodyProb = 0.3
	r := rand.New(rand.NewPCG(9, 9))
	var hb, up int
	for range 2000 {
		p := a.Draw(r)
		if p.HalfBody {
			hb++
			if p.PreferUpper {
				up++
			}
		}
	}
	if f := float64(hb) / 2000; math.Abs(f-0.3) > 0.05 {
		t.Errorf("half-body rate %v, want 0.3", f)
	}
	if f := float64(up) / float64(hb); math.Abs(f-0.7) > 0.08 {
		t.Errorf("upper preference %v, want 0.7", f)
	}
}
