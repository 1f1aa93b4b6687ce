package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	if err := Generate(ctx, a, 6, 42, Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Generate(ctx, b, 6, 42, Options{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	c := t.TempDir()
	if err := Generate(ctx, c, 6, 43, Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	files := []string{AnnFile}
	for i := range 6 {
		files = append(files, filepath.Join(ImagesDir, imageName(i)))
	}
	for _, f := range files {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with seed 42", f)
		}
		z, err := os.ReadFile(filepath.Join(c, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(x, z) {
			t.Errorf("%s is the same for seeds 42 and 43", f)
		}
	}
}

// checkFile validates one generated annotation file against its images.
func checkFile(t *testing.T, sp Split) *cocoFile {
	t.Helper()
	f, err := readCOCO(sp.Ann)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Categories) != 1 || f.Categories[0].ID != 1 || f.Categories[0].Name != "person" ||
		len(f.Categories[0].Keypoints) != 17 || len(f.Categories[0].Skeleton) != 19 {
		t.Fatalf("category = %+v, want COCO person with 17 keypoints and 19 limbs", f.Categories)
	}
	images := map[int64]cocoImage{}
	for _, im := range f.Images {
		if _, dup := images[im.ID]; dup {
			t.Errorf("duplicate image id %d", im.ID)
		}
		images[im.ID] = im
		fh, err := os.Open(filepath.Join(sp.Images, im.FileName))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", im.FileName, err)
		}
		if cfg.Width != im.Width || cfg.Height != im.Height {
			t.Errorf("%s: JPEG is %dx%d, JSON says %dx%d", im.FileName, cfg.Width, cfg.Height, im.Width, im.Height)
		}
	}
	perImage := map[int64]int{}
	annIDs := map[int64]bool{}
	for _, a := range f.Annotations {
		if annIDs[a.ID] {
			t.Errorf("duplicate annotation id %d", a.ID)
		}
		annIDs[a.ID] = true
		im, ok := images[a.ImageID]
		if !ok {
			t.Fatalf("annotation %d: unknown image %d", a.ID, a.ImageID)
		}
		perImage[a.ImageID]++
		if len(a.Keypoints) != 3*17 {
			t.Fatalf("annotation %d: %d keypoint values", a.ID, len(a.Keypoints))
		}
		if a.IsCrowd != 0 || a.CategoryID != 1 {
			t.Errorf("annotation %d: iscrowd %d, category %d", a.ID, a.IsCrowd, a.CategoryID)
		}
		bx := a.BBox
		if bx[0] < 0 || bx[1] < 0 || bx[2] <= 0 || bx[3] <= 0 || bx[0]+bx[2] > float64(im.Width) || bx[1]+bx[3] > float64(im.Height) {
			t.Errorf("annotation %d: bbox %v outside %dx%d image", a.ID, bx, im.Width, im.Height)
		}
		if a.Area <= 0 || a.Area > bx[2]*bx[3] {
			t.Errorf("annotation %d: area %g, bbox area %g", a.ID, a.Area, bx[2]*bx[3])
		}
		n := 0
		for k := 0; k < 17; k++ {
			x, y, v := a.Keypoints[3*k], a.Keypoints[3*k+1], a.Keypoints[3*k+2]
			switch v {
			case 0:
				if x != 0 || y != 0 {
					t.Errorf("annotation %d joint %d: v=0 at (%g,%g), want (0,0)", a.ID, k, x, y)
				}
				continue
			case 1, 2:
				n++
			default:
				t.Fatalf("annotation %d joint %d: v=%g", a.ID, k, v)
			}
			if x < 0 || y < 0 || x > float64(im.Width-1) || y > float64(im.Height-1) {
				t.Errorf("annotation %d joint %d: (%g,%g) outside %dx%d image", a.ID, k, x, y, im.Width, im.Height)
			}
			if x < bx[0] || y < bx[1] || x > bx[0]+bx[2] || y > bx[1]+bx[3] {
				t.Errorf("annotation %d joint %d: (%g,%g) outside bbox %v", a.ID, k, x, y, bx)
			}
		}
		if n == 0 {
			t.Errorf("annotation %d has no labeled joint", a.ID)
		}
		if n != a.NumKeypoints {
			t.Errorf("annotation %d: num_keypoints %d, counted %d", a.ID, a.NumKeypoints, n)
		}
	}
	for _, im := range f.Images {
		if p := perImage[im.ID]; p < 1 || p > 3 {
			t.Errorf("image %d has %d people, want 1..3", im.ID, p)
		}
	}
	return f
}

func TestGenerateValid(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(context.Background(), dir, 50, 1, Options{}); err != nil {
		t.Fatal(err)
	}
	f := checkFile(t, splitOf(dir))
	var s Stats
	s.add(f)
	total := 17 * s.Persons
	if s.Images != 50 || s.Persons < 60 || s.Persons > 150 {
		t.Errorf("%d images with %d persons, want 50 images and 60..150 persons", s.Images, s.Persons)
	}
	frac := func(n int) float64 { return float64(n) / float64(total) }
	// Sane ranges: mostly visible, a real share hidden, a few unlabeled.
	if f := frac(s.Visibility[2]); f < 0.6 || f > 0.95 {
		t.Errorf("visible fraction %.3f, want 0.6..0.95 (counts %v)", f, s.Visibility)
	}
	if f := frac(s.Visibility[1]); f < 0.03 || f > 0.3 {
		t.Errorf("hidden (v=1) fraction %.3f, want 0.03..0.3 (counts %v)", f, s.Visibility)
	}
	if f := frac(s.Visibility[0]); f < 0.005 || f > 0.15 {
		t.Errorf("unlabeled (v=0) fraction %.3f, want 0.005..0.15 (counts %v)", f, s.Visibility)
	}
	t.Logf("%+v", s)
}

// TestHiddenCauses renders scenes and checks that each cause of v=1 occurs
// (occluder, another person, another limb of the same person) and that v=2
// joints sit on a pixel of their own limb.
func TestHiddenCauses(t *testing.T) {
	o := mustDefaults(t)
	var byOccluder, byPerson, bySelf int
	for i := range 40 {
		c, people, _ := renderScene(5, 0, i, o)
		if c.w < o.MinSize || c.w > o.MaxSize || c.h < o.MinSize || c.h > o.MaxSize {
			t.Fatalf("image %d: %dx%d outside [%d,%d]", i, c.w, c.h, o.MinSize, o.MaxSize)
		}
		for pi, p := range people {
			for k, kp := range p.Keypoints {
				if kp.V == 0 {
					continue
				}
				px := int(math.Round(kp.X)) + c.w*int(math.Round(kp.Y))
				own, part := c.owner[px], c.part[px]
				switch {
				case kp.V == 2 && (own != int8(pi) || !slices.Contains(jointParts[k], part)):
					t.Errorf("image %d person %d %s: v=2 on owner %d part %d", i, pi, keypointNames[k], own, part)
				case kp.V == 1 && own == ownerOccluder:
					byOccluder++
				case kp.V == 1 && own >= 0 && own != int8(pi):
					byPerson++
				case kp.V == 1 && own == int8(pi):
					bySelf++
				}
			}
		}
	}
	if byOccluder == 0 || byPerson == 0 || bySelf == 0 {
		t.Errorf("hidden joints: %d by occluders, %d by other people, %d by own limbs; want all > 0", byOccluder, byPerson, bySelf)
	}
}

func TestOccluderMarksJoints(t *testing.T) {
	// Draw one person, then cover its left wrist with an occluder and an
	// unrelated area with another: only the covered joint turns to v=1.
	r := newRand(3, 0, 0)
	c := newCanvas(200, 200)
	b := newBody(r, 45, 0, vec{100, 100}, 0)
	c.beginTrack(0)
	b.draw(c, 0)
	var p person
	p.Area = float64(c.endTrack())
	p.Box = [4]float64{float64(c.minX), float64(c.minY), float64(c.maxX), float64(c.maxY)}
	q := b.j[jLWrist]
	c.polygon(rotRect(q[0], q[1], 8, 8, 0), rgb{1, 2, 3}, nil, ownerOccluder)
	c.polygon(rotRect(2, 2, 4, 4, 0), rgb{1, 2, 3}, nil, ownerOccluder)
	label(&p, b, c, 0)
	if got := p.Keypoints[jLWrist].V; got != 1 {
		t.Errorf("covered left wrist: v=%d, want 1", got)
	}
	if p.Keypoints[jLWrist].X != round2(q[0]) {
		t.Errorf("covered left wrist moved: %v, want x=%g", p.Keypoints[jLWrist], q[0])
	}
	for _, k := range []int{jLAnkle, jRAnkle, jNose, jLEye} {
		if got := p.Keypoints[k].V; got != 2 {
			t.Errorf("uncovered %s: v=%d, want 2", keypointNames[k], got)
		}
	}
}

func TestLeftRightConsistent(t *testing.T) {
	// Seen from the front the person's left joints lie on the image right;
	// seen from the back, on the image left. Upright, unrotated persons.
	for _, tc := range []struct {
		name     string
		backProb float64
		leftOnX  float64 // sign of x(left) - x(right)
	}{
		{"front", 0, 1},
		{"back", 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 20 {
				b := newBody(newRand(9, 0, i), 40, 0, vec{100, 100}, tc.backProb)
				for _, pair := range [][2]int{{jLShoulder, jRShoulder}, {jLHip, jRHip}, {jLEar, jREar}} {
					if d := b.j[pair[0]][0] - b.j[pair[1]][0]; d*tc.leftOnX <= 0 {
						t.Errorf("body %d: %s x=%.1f, %s x=%.1f", i, keypointNames[pair[0]], b.j[pair[0]][0], keypointNames[pair[1]], b.j[pair[1]][0])
					}
				}
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	calls := 0
	opts := Options{Progress: func(done, total int) {
		calls++
		if done < 1 || done > total || total != 5 {
			t.Errorf("progress(%d, %d)", done, total)
		}
	}}
	sp, err := Ensure(ctx, dir, 5, 7, opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 5 {
		t.Errorf("progress called %d times, want 5", calls)
	}
	st, err := os.Stat(sp.Ann)
	if err != nil {
		t.Fatal(err)
	}
	// Complete: nothing is regenerated.
	calls = 0
	if _, err := Ensure(ctx, dir, 5, 7, opts); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("complete dataset regenerated (%d progress calls)", calls)
	}
	// A missing image (interrupted or damaged set) is redone.
	img := filepath.Join(sp.Images, imageName(3))
	if err := os.Remove(img); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(ctx, dir, 5, 7, opts); err != nil {
		t.Fatal(err)
	}
	if calls != 5 {
		t.Errorf("incomplete dataset: %d progress calls, want 5", calls)
	}
	if _, err := os.Stat(img); err != nil {
		t.Errorf("image not regenerated: %v", err)
	}
	// Different parameters regenerate too.
	calls = 0
	opts.Progress = func(done, total int) { calls++ }
	if _, err := Ensure(ctx, dir, 5, 8, opts); err != nil {
		t.Fatal(err)
	}
	if calls != 5 {
		t.Errorf("new seed: %d progress calls, want 5", calls)
	}
	if st2, err := os.Stat(sp.Ann); err != nil || os.SameFile(st, st2) {
		t.Errorf("annotation file not rewritten (err %v)", err)
	}
	// No temporary files are left behind.
	for _, d := range []string{dir, sp.Images} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if filepath.Ext(e.Name()) != ".jpg" && e.Name() != AnnFile && e.Name() != markerFile && e.Name() != ImagesDir {
				t.Errorf("stray file %s in %s", e.Name(), d)
			}
		}
	}
}

func TestGenerateCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{Progress: func(done, total int) {
		if done == 2 {
			cancel()
		}
	}}
	err := Generate(ctx, dir, 40, 1, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, markerFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after a cancelled run: %v", err)
	}
	if complete(dir, marker(40, 1, streamTrain, mustDefaults(t))) {
		t.Error("cancelled set reported complete")
	}
}

func mustDefaults(t *testing.T) Options {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestGenerateSplits(t *testing.T) {
	dir := t.TempDir()
	train, val, err := EnsureSplits(context.Background(), dir, 4, 3, 11, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ft, fv := checkFile(t, train), checkFile(t, val)
	if len(ft.Images) != 4 || len(fv.Images) != 3 {
		t.Fatalf("%d train and %d val images, want 4 and 3", len(ft.Images), len(fv.Images))
	}
	for i := range 3 {
		a, _ := os.ReadFile(filepath.Join(train.Images, imageName(i)))
		b, _ := os.ReadFile(filepath.Join(val.Images, imageName(i)))
		if bytes.Equal(a, b) {
			t.Errorf("train and val image %d are identical", i)
		}
	}
	// The train split is the plain Generate output of the same seed.
	single := t.TempDir()
	if err := Generate(context.Background(), single, 4, 11, Options{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(train.Ann)
	b, _ := os.ReadFile(filepath.Join(single, AnnFile))
	if !bytes.Equal(a, b) {
		t.Error("train split differs from Generate with the same seed")
	}
	if !complete(dir, splitsMarker(4, 3, 11, mustDefaults(t))) {
		t.Error("splits marker missing")
	}
}

func TestOptionsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		o    Options
	}{
		{"zero n", 0, Options{}},
		{"tiny images", 1, Options{MinSize: 10, MaxSize: 20}},
		{"max below min", 1, Options{MinSize: 200, MaxSize: 100}},
		{"four people", 1, Options{MaxPeople: 4}},
		{"quality", 1, Options{Quality: 101}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Generate(context.Background(), t.TempDir(), tc.n, 1, tc.o)
			if !errors.Is(err, ErrOptions) {
				t.Errorf("err = %v, want ErrOptions", err)
			}
		})
	}
}

func TestJSONIsStandardCOCO(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(context.Background(), dir, 2, 3, Options{MaxPeople: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, AnnFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"images", "annotations", "categories"} {
		if _, ok := raw[key].([]any); !ok {
			t.Errorf("top-level %q is %T, want an array", key, raw[key])
		}
	}
	ann := raw["annotations"].([]any)[0].(map[string]any)
	for _, key := range []string{"id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd"} {
		if _, ok := ann[key]; !ok {
			t.Errorf("annotation lacks %q", key)
		}
	}
	cat := raw["categories"].([]any)[0].(map[string]any)
	if got := fmt.Sprint(cat["keypoints"].([]any)[5]); got != "left_shoulder" {
		t.Errorf("keypoint 5 = %s, want left_shoulder", got)
	}
	if got := fmt.Sprint(cat["skeleton"].([]any)[0]); got != "[16 14]" {
		t.Errorf("skeleton[0] = %s, want [16 14]", got)
	}
}
