package coco

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/internal/shareddata"
)

// goldenFile holds keypoint-evaluation cases with the stats printed by
// pycocotools; testdata/eval_golden_gen.py says how it was made.
type goldenFile struct {
	Note   string    `json:"note"`
	Sigmas []float64 `json:"sigmas"`
	Cases  []struct {
		Name     string          `json:"name"`
		GT       json.RawMessage `json:"gt"`
		GTShared string          `json:"gt_shared"`
		Results  json.RawMessage `json:"results"`
		Stats    Stats           `json:"stats"`
	} `json:"cases"`
}

func (s Stats) values() [10]float64 {
	return [10]float64{s.AP, s.AP50, s.AP75, s.APm, s.APl, s.AR, s.AR50, s.AR75, s.ARm, s.ARl}
}

var statNames = [10]string{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}

// assertStats fails when any stat differs from want by more than tol.
func assertStats(t *testing.T, got, want Stats, tol float64) (maxDiff float64) {
	t.Helper()
	g, w := got.values(), want.values()
	for i := range g {
		d := math.Abs(g[i] - w[i])
		maxDiff = max(maxDiff, d)
		if d > tol || math.IsNaN(g[i]) {
			t.Errorf("%s = %.10f, want %.10f", statNames[i], g[i], w[i])
		}
	}
	return maxDiff
}

func TestEvaluateOKSMatchesPycocotools(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "eval_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(data, &gf); err != nil {
		t.Fatal(err)
	}
	if len(gf.Cases) < 10 {
		t.Fatalf("golden file has %d cases, want at least 10", len(gf.Cases))
	}
	for _, c := range gf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var gt *Dataset
			var err error
			if c.GTShared != "" {
				root := shareddata.Dir(t, filepath.Dir(filepath.Dir(c.GTShared)))
				gt, err = Load(filepath.Join(root, filepath.Base(filepath.Dir(c.GTShared)), filepath.Base(c.GTShared)))
			} else {
				gt, err = Parse(c.Name, c.GT)
			}
			if err != nil {
				t.Fatal(err)
			}
			dts, err := ParseResults(c.Name, c.Results, gt)
			if err != nil {
				t.Fatal(err)
			}
			got := EvaluateOKS(gt, dts, gf.Sigmas)
			d := assertStats(t, got, c.Stats, 1e-4)
			t.Logf("max |Go - pycocotools| = %.3g over %d results", d, len(dts))
		})
	}
}

// personResults feeds the ground truth back as detections: every
// non-crowd annotation with a labeled joint, score 1.
func personResults(d *Dataset) []Result {
	var rs []Result
	for _, a := range d.Persons() {
		rs = append(rs, Result{ImageID: a.ImageID, CategoryID: a.CategoryID, Keypoints: a.Keypoints, Score: 1})
	}
	return rs
}

func TestEvaluateOKSGroundTruthFedBack(t *testing.T) {
	files := []string{
		"coco_mini/annotations/person_keypoints_train2017.json",
		"coco_mini/annotations/person_keypoints_val2017.json",
		"mmpose_testdata/coco/annotations.json",
		"mmpose_testdata/ochuman/annotations.json",
		"mmpose_testdata/posetrack18/annotations.json",
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			dir := shareddata.Dir(t, filepath.Dir(f))
			gt, err := Load(filepath.Join(dir, filepath.Base(f)))
			if err != nil {
				t.Fatal(err)
			}
			if gt.Schema.K() != 17 {
				t.Fatalf("K = %d, want 17", gt.Schema.K())
			}
			rs := personResults(gt)
			if len(rs) == 0 {
				t.Fatal("no persons")
			}
			s := EvaluateOKS(gt, rs, gt.Schema.Sigmas)
			// Precision is tp/(tp+eps) in pycocotools, so "1" is 1-2e-16.
			if math.Abs(s.AP-1) > 1e-12 || math.Abs(s.AR-1) > 1e-12 || math.Abs(s.AP50-1) > 1e-12 || math.Abs(s.AR75-1) > 1e-12 {
				t.Errorf("ground truth fed back: %+v, want AP = AR = 1", s)
			}
		})
	}
}

// onePerson is a dataset with one image and one 17-joint person whose
// joints are all labeled, with the given area.
func onePerson(area float64) *Dataset {
	d := &Dataset{CategoryID: 1, Schema: COCO17(), Images: []Image{{ID: 1}, {ID: 2}}}
	kps := make([]Keypoint, 17)
	for j := range kps {
		kps[j] = Keypoint{X: 100 + float64(j*3), Y: 50 + float64(j*7), V: 2}
	}
	d.Annotations = []Annotation{{ID: 10, ImageID: 1, CategoryID: 1, Keypoints: kps, NumKeypoints: 17,
		Box: Box{X: 100, Y: 50, W: 48, H: 112}, HasBox: true, Area: area}}
	return d
}

func shifted(kps []Keypoint, dx, dy float64) []Keypoint {
	out := make([]Keypoint, len(kps))
	for j, p := range kps {
		out[j] = Keypoint{X: p.X + dx, Y: p.Y + dy, V: 1}
	}
	return out
}

func uniform(k int, s float64) []float64 {
	v := make([]float64, k)
	for i := range v {
		v[i] = s
	}
	return v
}

func TestEvaluateOKSKnownShift(t *testing.T) {
	// With one sigma σ for every joint, a constant shift d gives
	// OKS = exp(-d²/(2·area·(2σ)²)). The one detection is a true positive at
	// the thresholds <= OKS, so AP = AR = (number of such thresholds)/10.
	const area, sigma = 5000.0, 0.05
	tests := []struct {
		oks        float64
		ap, ap50   float64
		ap75, ar75 float64
	}{
		{oks: 0.99, ap: 1, ap50: 1, ap75: 1, ar75: 1},
		{oks: 0.72, ap: 0.5, ap50: 1, ap75: 0, ar75: 0}, // 0.50 ... 0.70
		{oks: 0.77, ap: 0.6, ap50: 1, ap75: 1, ar75: 1}, // 0.50 ... 0.75
		{oks: 0.52, ap: 0.1, ap50: 1, ap75: 0, ar75: 0},
		{oks: 0.30, ap: 0, ap50: 0, ap75: 0, ar75: 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.oks), func(t *testing.T) {
			gt := onePerson(area)
			d := math.Sqrt(-math.Log(tc.oks) * 2 * area * (2 * sigma) * (2 * sigma))
			dt := Result{ImageID: 1, CategoryID: 1, Keypoints: shifted(gt.Annotations[0].Keypoints, d*0.6, d*0.8), Score: 0.7}
			s := EvaluateOKS(gt, []Result{dt}, uniform(17, sigma))
			want := Stats{AP: tc.ap, AP50: tc.ap50, AP75: tc.ap75, APm: tc.ap, APl: -1,
				AR: tc.ap, AR50: tc.ap50, AR75: tc.ar75, ARm: tc.ap, ARl: -1}
			assertStats(t, s, want, 1e-9)
		})
	}
}

func TestEvaluateOKSIgnoredAndUnmatched(t *testing.T) {
	base := onePerson(5000)
	exact := Result{ImageID: 1, CategoryID: 1, Keypoints: shifted(base.Annotations[0].Keypoints, 0, 0), Score: 0.5}
	// blob: 17 joints around (cx, cy) on the given image.
	blob := func(img int64, cx, cy float64, score float64) Result {
		kps := make([]Keypoint, 17)
		for j := range kps {
			kps[j] = Keypoint{X: cx + float64(j%5), Y: cy + float64(j/5), V: 1}
		}
		return Result{ImageID: img, CategoryID: 1, Keypoints: kps, Score: score}
	}
	crowd := Annotation{ID: 11, ImageID: 1, CategoryID: 1, Keypoints: make([]Keypoint, 17), Crowd: true,
		Box: Box{X: 300, Y: 300, W: 100, H: 80}, HasBox: true, Area: 6000}
	unlabeled := crowd
	unlabeled.ID, unlabeled.Crowd = 12, false
	tests := []struct {
		name  string
		extra []Annotation
		dts   []Result
		ap    float64
	}{
		{"exact only", nil, []Result{exact}, 1},
		// A false positive scored above the true positive halves AP:
		// precision is 1/2 at recall 1.
		{"false positive first", nil, []Result{exact, blob(1, 350, 340, 0.9)}, 0.5},
		{"false positive last", nil, []Result{exact, blob(1, 350, 340, 0.1)}, 1},
		// The same detection inside a crowd region is ignored, and a crowd
		// absorbs any number of detections.
		{"crowd absorbs", []Annotation{crowd}, []Result{exact, blob(1, 350, 340, 0.9), blob(1, 310, 310, 0.8)}, 1},
		// Far outside the crowd's box enlarged by its size: a false positive.
		{"outside crowd", []Annotation{crowd}, []Result{exact, blob(1, 800, 700, 0.9)}, 0.5},
		// A non-crowd ground truth with no labeled joint is ignored too, but
		// matches only one detection; the second is a false positive.
		{"unlabeled gt", []Annotation{unlabeled}, []Result{exact, blob(1, 350, 340, 0.9)}, 1},
		{"unlabeled gt once", []Annotation{unlabeled}, []Result{exact, blob(1, 350, 340, 0.9), blob(1, 320, 330, 0.8)}, 0.5},
		// Detections on an image without ground truth are false positives.
		{"image without gt", nil, []Result{exact, blob(2, 50, 50, 0.9)}, 0.5},
		// More than 20 detections on the empty image: only the 20 best
		// count, all scored below the true positive.
		{"image without gt low", nil, append([]Result{exact}, repeat(blob(2, 50, 50, 0.2), 30)...), 1},
		// Detections of another category are not evaluated.
		{"other category", nil, []Result{exact, {ImageID: 1, CategoryID: 2, Keypoints: exact.Keypoints, Score: 0.9}}, 1},
		{"empty results", nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gt := onePerson(5000)
			gt.Annotations = append(gt.Annotations, tc.extra...)
			s := EvaluateOKS(gt, tc.dts, COCO17().Sigmas)
			if math.Abs(s.AP-tc.ap) > 1e-9 || math.Abs(s.AP50-tc.ap) > 1e-9 {
				t.Errorf("AP = %v, AP50 = %v, want %v", s.AP, s.AP50, tc.ap)
			}
			if s.APl != -1 || s.ARl != -1 {
				t.Errorf("APl = %v, ARl = %v, want -1 (no large ground truth)", s.APl, s.ARl)
			}
		})
	}
}

func repeat(r Result, n int) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func TestEvaluateOKSOver20PerImage(t *testing.T) {
	// 25 people on one image, each detected exactly with decreasing score:
	// only the 20 best detections count, so recall stops at 20/25 and the
	// precision is 1 up to it: AP = 81/101 (recall points 0.00 ... 0.80).
	gt := &Dataset{CategoryID: 1, Schema: COCO17(), Images: []Image{{ID: 7}}}
	var dts []Result
	for i := range 25 {
		kps := make([]Keypoint, 17)
		for j := range kps {
			kps[j] = Keypoint{X: float64(200*i + 3*j), Y: float64(5 * j), V: 2}
		}
		gt.Annotations = append(gt.Annotations, Annotation{ID: int64(i + 1), ImageID: 7, CategoryID: 1,
			Keypoints: kps, NumKeypoints: 17, Area: 4000})
		dts = append(dts, Result{ImageID: 7, CategoryID: 1, Keypoints: kps, Score: 1 - float64(i)/100})
	}
	s := EvaluateOKS(gt, dts, COCO17().Sigmas)
	want := Stats{AP: 81.0 / 101, AP50: 81.0 / 101, AP75: 81.0 / 101, APm: 81.0 / 101, APl: -1,
		AR: 0.8, AR50: 0.8, AR75: 0.8, ARm: 0.8, ARl: -1}
	assertStats(t, s, want, 1e-12)
}

func TestOKSUnlabeledBranch(t *testing.T) {
	// A ground truth without labeled joints: each detected joint is
	// measured to the box enlarged by its own size on each side,
	// [x-w, x+2w] x [y-h, y+2h] = [0, 300] x [-50, 250] here.
	gt := &Annotation{Keypoints: make([]Keypoint, 2), Box: Box{X: 100, Y: 50, W: 100, H: 100}, Area: 1000}
	vars := []float64{0.01, 0.04}
	tests := []struct {
		name string
		kps  []Keypoint
		want float64
	}{
		{"inside", []Keypoint{{X: 150, Y: 100}, {X: 0, Y: 250}}, 1},
		{"right and below", []Keypoint{{X: 310, Y: 100}, {X: 150, Y: 260}},
			(math.Exp(-100/0.01/1000/2) + math.Exp(-100/0.04/1000/2)) / 2},
		{"corner", []Keypoint{{X: -3, Y: -54}, {X: 150, Y: 100}},
			(math.Exp(-25/0.01/1000/2) + 1) / 2},
	}
	var w evalScratch
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := w.oks(&Result{Keypoints: tc.kps}, gt, vars)
			if math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("oks = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

func TestStatsWriteText(t *testing.T) {
	var b bytes.Buffer
	s := Stats{AP: 0.7234, AP50: 0.9, AP75: 0.8, APm: -1, APl: 0.5, AR: 1, AR50: 1, AR75: 1, ARm: -1, ARl: 0.0005}
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := map[int]string{
		0: " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.723",
		1: " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 0.900",
		3: " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = -1.000",
		7: " Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets= 20 ] = 1.000",
		9: " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 0.001",
	}
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10:\n%s", len(lines), b.String())
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], w)
		}
	}
}

func TestStatsJSONKeys(t *testing.T) {
	b, err := json.Marshal(Stats{AP: 0.5, ARl: -1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 10 || m["AP"] != 0.5 || m["ARl"] != -1 {
		t.Errorf("JSON %s: want the ten keys with AP=0.5, ARl=-1", b)
	}
	for _, k := range statNames {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks key %s", b, k)
		}
	}
}

func TestLinspaceMatchesNumpy(t *testing.T) {
	// np.linspace(.5, 0.95, 10) and np.linspace(0, 1, 101) as printed by
	// numpy 1.24 (repr): 0.8999999999999999 is not 0.9.
	if oksThresholds[8] != 0.8999999999999999 || oksThresholds[5] != 0.75 || oksThresholds[9] != 0.95 {
		t.Errorf("oksThresholds = %v", oksThresholds)
	}
	if recallThresholds[7] != 0.07 || recallThresholds[100] != 1 || recallThresholds[80] != 0.8 {
		t.Errorf("recallThresholds[7,80,100] = %v %v %v", recallThresholds[7], recallThresholds[80], recallThresholds[100])
	}
}

func TestNpPairwiseSumOrder(t *testing.T) {
	// 1e16 + 1 + ... loses the ones when added left to right, but numpy's
	// eight accumulators add the ones among themselves first.
	v := []float64{1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if got, want := npPairwiseSum(v), 1e16+14; got != want {
		t.Errorf("npPairwiseSum = %v, want %v", got, want)
	}
	w := make([]float64, 300)
	for i := range w {
		w[i] = float64(i)
	}
	if got := npPairwiseSum(w); got != 299*300/2 {
		t.Errorf("npPairwiseSum(0..299) = %v", got)
	}
}

// synthCase builds nGT ground-truth people on images of 5 people each and
// nDT detections (jittered copies and false positives), deterministically.
func synthCase(nGT, nDT int, seed uint64) (*Dataset, []Result) {
	r := rand.New(rand.NewPCG(seed, 1))
	const perImage = 5
	gt := &Dataset{CategoryID: 1, Schema: COCO17()}
	nImg := (nGT + perImage - 1) / perImage
	for i := range nImg {
		gt.Images = append(gt.Images, Image{ID: int64(i + 1), Width: 640, Height: 480})
	}
	for i := range nGT {
		h := 20 + r.Float64()*300
		w := h * 0.5
		x, y := r.Float64()*(640-w), r.Float64()*(480-h)
		kps := make([]Keypoint, 17)
		nk := 0
		for j := range kps {
			if r.IntN(5) == 0 {
				continue
			}
			kps[j] = Keypoint{X: x + r.Float64()*w, Y: y + r.Float64()*h, V: 1 + r.IntN(2)}
			nk++
		}
		gt.Annotations = append(gt.Annotations, Annotation{ID: int64(i + 1), ImageID: int64(i/perImage + 1), CategoryID: 1,
			Keypoints: kps, NumKeypoints: nk, Box: Box{X: x, Y: y, W: w, H: h}, HasBox: true, Area: 0.55 * w * h, Crowd: r.IntN(50) == 0})
	}
	dts := make([]Result, 0, nDT)
	for i := range nDT {
		a := &gt.Annotations[r.IntN(len(gt.Annotations))]
		s := 0.1 * math.Sqrt(a.Area) * r.Float64()
		kps := make([]Keypoint, 17)
		for j, p := range a.Keypoints {
			if p.V == 0 {
				p = Keypoint{X: a.Box.X + r.Float64()*a.Box.W, Y: a.Box.Y + r.Float64()*a.Box.H}
			}
			kps[j] = Keypoint{X: p.X + r.NormFloat64()*s, Y: p.Y + r.NormFloat64()*s, V: 1}
		}
		if i%10 == 0 { // a false positive somewhere else on the image
			for j := range kps {
				kps[j].X = r.Float64() * 640
				kps[j].Y = r.Float64() * 480
			}
		}
		dts = append(dts, Result{ImageID: a.ImageID, CategoryID: 1, Keypoints: kps, Score: math.Round(r.Float64()*1e4) / 1e4})
	}
	return gt, dts
}

func TestEvaluateOKSSynthDeterministic(t *testing.T) {
	gt, dts := synthCase(2000, 4000, 3)
	a := EvaluateOKS(gt, dts, COCO17().Sigmas)
	if a.AP <= 0.1 || a.AP >= 0.99 || a.AR < a.AP-0.2 {
		t.Errorf("synthetic case: implausible stats %+v", a)
	}
	// Shuffling the images changes nothing: evaluation is per image id.
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(gt.Images), func(i, j int) { gt.Images[i], gt.Images[j] = gt.Images[j], gt.Images[i] })
	b := EvaluateOKS(gt, dts, COCO17().Sigmas)
	if a != b {
		t.Errorf("stats changed with image order:\n%+v\n%+v", a, b)
	}
}

// TestWriteSynthCase writes the benchmark case as COCO JSON for timing
// pycocotools on it. It runs only with BSAMPOSE_WRITE_SYNTH=<dir>.
func TestWriteSynthCase(t *testing.T) {
	dir := os.Getenv("BSAMPOSE_WRITE_SYNTH")
	if dir == "" {
		t.Skip("set BSAMPOSE_WRITE_SYNTH=<dir> to write the benchmark case")
	}
	gt, dts := synthCase(50000, 100000, 1)
	type ann struct {
		ID           int64     `json:"id"`
		ImageID      int64     `json:"image_id"`
		CategoryID   int64     `json:"category_id"`
		Keypoints    []float64 `json:"keypoints"`
		NumKeypoints int       `json:"num_keypoints"`
		BBox         []float64 `json:"bbox"`
		Area         float64   `json:"area"`
		IsCrowd      int       `json:"iscrowd"`
	}
	doc := map[string]any{"categories": []map[string]any{{"id": 1, "name": "person", "keypoints": COCO17().Names}}}
	var imgs []map[string]any
	for _, im := range gt.Images {
		imgs = append(imgs, map[string]any{"id": im.ID, "width": im.Width, "height": im.Height, "file_name": fmt.Sprint(im.ID)})
	}
	var anns []ann
	for _, a := range gt.Annotations {
		var k []float64
		for _, p := range a.Keypoints {
			k = append(k, p.X, p.Y, float64(p.V))
		}
		crowd := 0
		if a.Crowd {
			crowd = 1
		}
		anns = append(anns, ann{a.ID, a.ImageID, 1, k, a.NumKeypoints, []float64{a.Box.X, a.Box.Y, a.Box.W, a.Box.H}, a.Area, crowd})
	}
	doc["images"], doc["annotations"] = imgs, anns
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "synth_gt.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var rb bytes.Buffer
	if err := WriteResults(&rb, dts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "synth_dt.json"), rb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := EvaluateOKS(gt, dts, COCO17().Sigmas)
	sb, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "synth_go_stats.json"), sb, 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkEvaluateOKS(b *testing.B) {
	for _, size := range []struct{ gt, dt int }{{5000, 10000}, {50000, 100000}} {
		b.Run(fmt.Sprintf("GT%dk_DT%dk", size.gt/1000, size.dt/1000), func(b *testing.B) {
			gt, dts := synthCase(size.gt, size.dt, 1)
			sig := COCO17().Sigmas
			for b.Loop() {
				EvaluateOKS(gt, dts, sig)
			}
		})
	}
}
