package coco

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// OKS evaluation follows pycocotools COCOeval(iouType='keypoints') line by
// line (cocodataset/cocoapi PythonAPI/pycocotools/cocoeval.py and the
// keypoints branch of coco.py loadRes). The constants below are its Params
// for keypoints.
const (
	// MaxDets is the number of highest-scoring detections kept per image.
	MaxDets = 20

	numThr  = 10  // OKS thresholds 0.50:0.05:0.95
	numRec  = 101 // recall thresholds 0:0.01:1
	numArea = 3   // all, medium, large
)

// areaRanges are pycocotools' keypoint area ranges: all [0, 1e5²],
// medium [32², 96²], large [96², 1e5²] (bounds inclusive).
var areaRanges = [numArea][2]float64{{0, 1e10}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}

// spacing1 is numpy's np.spacing(1), the eps added to the area in OKS and to
// the denominator of the precision.
var spacing1 = math.Nextafter(1, 2) - 1

// oksThresholds and recallThresholds reproduce np.linspace bit for bit:
// i*step + start, with the last value set to stop. The explicit float64
// conversions forbid fused multiply-add.
var oksThresholds, recallThresholds = evLinspace(0.5, 0.95, numThr), evLinspace(0, 1, numRec)

func evLinspace(start, stop float64, n int) []float64 {
	step := (stop - start) / float64(n-1)
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(float64(i)*step) + start
	}
	v[n-1] = stop
	return v
}

// Stats are the ten keypoint summary numbers of pycocotools
// COCOeval.summarize(), in its order. A value is -1 where it is undefined
// (no non-ignored ground truth in that area range).
type Stats struct {
	AP   float64 `json:"AP"`   // AP @ OKS 0.50:0.95, area all, maxDets 20
	AP50 float64 `json:"AP50"` // AP @ OKS 0.50
	AP75 float64 `json:"AP75"` // AP @ OKS 0.75
	APm  float64 `json:"APm"`  // AP, medium area (32² to 96²)
	APl  float64 `json:"APl"`  // AP, large area (above 96²)
	AR   float64 `json:"AR"`   // AR @ OKS 0.50:0.95, area all, maxDets 20
	AR50 float64 `json:"AR50"` // AR @ OKS 0.50
	AR75 float64 `json:"AR75"` // AR @ OKS 0.75
	ARm  float64 `json:"ARm"`  // AR, medium area
	ARl  float64 `json:"ARl"`  // AR, large area
}

// WriteText writes the ten summary lines exactly as pycocotools
// COCOeval.summarize() prints them for keypoints.
func (s Stats) WriteText(w io.Writer) error {
	lines := []struct {
		ap   bool
		iou  string
		area string
		v    float64
	}{
		{true, "0.50:0.95", "all", s.AP},
		{true, "0.50", "all", s.AP50},
		{true, "0.75", "all", s.AP75},
		{true, "0.50:0.95", "medium", s.APm},
		{true, "0.50:0.95", "large", s.APl},
		{false, "0.50:0.95", "all", s.AR},
		{false, "0.50", "all", s.AR50},
		{false, "0.75", "all", s.AR75},
		{false, "0.50:0.95", "medium", s.ARm},
		{false, "0.50:0.95", "large", s.ARl},
	}
	for _, l := range lines {
		title, typ := "Average Precision", "(AP)"
		if !l.ap {
			title, typ = "Average Recall", "(AR)"
		}
		if _, err := fmt.Fprintf(w, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
			title, typ, l.iou, l.area, MaxDets, l.v); err != nil {
			return fmt.Errorf("coco: write stats: %w", err)
		}
	}
	return nil
}

// imageEval is the per-image part of the evaluation: the image's kept
// detections (sorted, at most MaxDets) live at [off, off+len(dts)) of the
// global arrays, and npig counts its non-ignored ground truth per area range.
type imageEval struct {
	gts  []*Annotation
	dts  []*Result
	off  int
	npig [numArea]int
}

// Flags of one (area, threshold, detection) cell.
const (
	flagMatched = 1 << iota // dtMatches != 0 in pycocotools
	flagIgnored             // dtIgnore
)

// EvaluateOKS evaluates keypoint detections against the ground truth of gt
// with the semantics of pycocotools COCOeval(iouType='keypoints'):
//
//   - images are those of gt.Images; annotations and detections of other
//     categories than gt.CategoryID, and detections on images not in gt,
//     are left out (ParseResults refuses the latter);
//   - a ground truth is ignored when it is a crowd or has no labeled joint
//     (NumKeypoints == 0, recounted by the loader), or when its Area lies
//     outside the area range;
//   - a detection's area is (x1-x0)*(y1-y0) over the extent of all its
//     keypoints, or Box.W*Box.H when Box is set (loadRes takes the bbox
//     branch when results carry a bbox);
//   - OKS uses vars = (2σ)², e = d²/vars/(area+eps)/2 over labeled ground
//     truth joints; a ground truth with no labeled joint measures the
//     distance to its box enlarged by its own size on each side;
//   - per image, detections are sorted by score (stable) and the first
//     MaxDets kept; matching is greedy in score order, prefers non-ignored
//     ground truth, and a crowd may match many detections;
//   - precision is interpolated at 101 recall points with the monotone
//     envelope; recall is the final recall.
//
// One pycocotools quirk is kept on purpose: a detection matched to a ground
// truth whose annotation id is 0 counts as unmatched, because pycocotools
// stores the matched id and tests it against 0.
//
// dts: detections in any order (ties in score are broken by image id, then
// by position in dts, as pycocotools does); each Keypoints has length K, in
// image pixels. sigmas: the K per-joint OKS sigmas (σ, not variances), in
// the order of gt.Schema.Names. The ground truth's NumKeypoints decides
// "no labeled joint" for ignoring (pycocotools reads num_keypoints from the
// file; the loader recounts it from V, which agrees on every shared file).
//
// Stats are -1 where no non-ignored ground truth exists in an area range,
// and 0 (not a crash) for an empty dts.
//
// Images are evaluated in parallel on GOMAXPROCS goroutines; the result does
// not depend on the number of goroutines.
//
// It panics if len(sigmas) != gt.Schema.K() (when the schema has names), or
// if a detection or annotation has a number of keypoints other than
// len(sigmas).
func EvaluateOKS(gt *Dataset, dts []Result, sigmas []float64) Stats {
	k := len(sigmas)
	if n := gt.Schema.K(); n != 0 && n != k {
		panic(fmt.Sprintf("coco: EvaluateOKS: %d sigmas for %d joints", k, n))
	}
	vars := make([]float64, k)
	for i, s := range sigmas {
		v := s * 2
		vars[i] = v * v
	}

	// p.imgIds: the sorted unique image ids of the ground truth.
	ids := make([]int64, 0, len(gt.Images))
	for _, im := range gt.Images {
		ids = append(ids, im.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	index := make(map[int64]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	imgs := make([]imageEval, len(ids))
	for i := range gt.Annotations {
		a := &gt.Annotations[i]
		if a.CategoryID != gt.CategoryID {
			continue
		}
		if j, ok := index[a.ImageID]; ok {
			if len(a.Keypoints) != k {
				panic(fmt.Sprintf("coco: EvaluateOKS: annotation %d has %d keypoints, want %d", a.ID, len(a.Keypoints), k))
			}
			imgs[j].gts = append(imgs[j].gts, a)
		}
	}
	for i := range dts {
		d := &dts[i]
		if d.CategoryID != gt.CategoryID {
			continue
		}
		if j, ok := index[d.ImageID]; ok {
			if len(d.Keypoints) != k {
				panic(fmt.Sprintf("coco: EvaluateOKS: result %d has %d keypoints, want %d", i, len(d.Keypoints), k))
			}
			imgs[j].dts = append(imgs[j].dts, d)
		}
	}

	// Sort each image's detections by score (stable, like np.argsort(-s,
	// kind='mergesort')), keep MaxDets, and lay them out in image order.
	total := 0
	for i := range imgs {
		im := &imgs[i]
		slices.SortStableFunc(im.dts, func(a, b *Result) int { return cmp.Compare(b.Score, a.Score) })
		if len(im.dts) > MaxDets {
			im.dts = im.dts[:MaxDets]
		}
		im.off = total
		total += len(im.dts)
	}
	scores := make([]float64, total)
	flags := make([]uint8, numArea*numThr*total) // [area][thr][detection]

	workers := min(runtime.GOMAXPROCS(0), max(1, len(imgs)/64))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var w evalScratch
			for {
				i := int(next.Add(1)) - 1
				if i >= len(imgs) {
					return
				}
				w.evaluateImage(&imgs[i], vars, scores, flags, total)
			}
		})
	}
	wg.Wait()

	var npig [numArea]int
	for i := range imgs {
		for a := range numArea {
			npig[a] += imgs[i].npig[a]
		}
	}

	// accumulate(): one global order, np.argsort(-scores, kind='mergesort')
	// over the concatenation in image-id order.
	order := make([]int32, total)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	var precision [numArea][numThr][numRec]float64
	var recall [numArea][numThr]float64
	var wg2 sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for a := range numArea {
		if npig[a] == 0 {
			continue
		}
		for t := range numThr {
			sem <- struct{}{}
			wg2.Go(func() {
				defer func() { <-sem }()
				f := flags[(a*numThr+t)*total : (a*numThr+t+1)*total]
				recall[a][t] = evAccumulate(f, order, npig[a], &precision[a][t])
			})
		}
	}
	wg2.Wait()

	ap := func(a int, ts ...int) float64 {
		if npig[a] == 0 {
			return -1
		}
		var v []float64
		for _, t := range ts {
			v = append(v, precision[a][t][:]...)
		}
		return npPairwiseSum(v) / float64(len(v))
	}
	ar := func(a int, ts ...int) float64 {
		if npig[a] == 0 {
			return -1
		}
		var v []float64
		for _, t := range ts {
			v = append(v, recall[a][t])
		}
		return npPairwiseSum(v) / float64(len(v))
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	return Stats{
		AP: ap(0, all...), AP50: ap(0, 0), AP75: ap(0, 5), APm: ap(1, all...), APl: ap(2, all...),
		AR: ar(0, all...), AR50: ar(0, 0), AR75: ar(0, 5), ARm: ar(1, all...), ARl: ar(2, all...),
	}
}

// evAccumulate computes the interpolated precision at the recall thresholds
// into q and returns the final recall, for one area range and threshold.
// f: flags per detection in concatenation order; order: the global
// score order.
func evAccumulate(f []uint8, order []int32, npig int, q *[numRec]float64) float64 {
	nd := len(order)
	if nd == 0 {
		return 0
	}
	rc := make([]float64, nd)
	pr := make([]float64, nd)
	var tp, fp float64
	for i, o := range order {
		switch f[o] & (flagMatched | flagIgnored) {
		case flagMatched:
			tp++
		case 0:
			fp++
		}
		rc[i] = tp / float64(npig)
		pr[i] = tp / (fp + tp + spacing1)
	}
	for i := nd - 1; i > 0; i-- {
		if pr[i] > pr[i-1] {
			pr[i-1] = pr[i]
		}
	}
	// np.searchsorted(rc, recThrs, side='left'); thresholds past the end
	// keep precision 0.
	i := 0
	for r, thr := range recallThresholds {
		for i < nd && rc[i] < thr {
			i++
		}
		if i == nd {
			break
		}
		q[r] = pr[i]
	}
	return rc[nd-1]
}

// evalScratch holds per-goroutine buffers for evaluateImage.
type evalScratch struct {
	ious    []float64 // D*G, row-major (detection, ground truth in file order)
	e       []float64
	gtOrder []int
	gtIg    []bool
	gtm     []bool
	crowd   []bool
}

// evaluateImage runs computeOks and evaluateImg for one image and every area
// range and threshold, writing the detections' scores and flags.
func (w *evalScratch) evaluateImage(im *imageEval, vars, scores []float64, flags []uint8, total int) {
	D, G := len(im.dts), len(im.gts)
	for d, dt := range im.dts {
		scores[im.off+d] = dt.Score
	}
	if D == 0 && G == 0 {
		return
	}
	hasIoU := D > 0 && G > 0
	if hasIoU {
		w.ious = evGrow(w.ious, D*G)
		for g, gt := range im.gts {
			for d, dt := range im.dts {
				w.ious[d*G+g] = w.oks(dt, gt, vars)
			}
		}
	}
	dtArea := make([]float64, D)
	for d, dt := range im.dts {
		dtArea[d] = resultArea(dt)
	}
	w.gtOrder = evGrowInts(w.gtOrder, G)
	w.gtIg = evGrowBools(w.gtIg, G)
	w.gtm = evGrowBools(w.gtm, G)
	w.crowd = evGrowBools(w.crowd, G)
	for a, rng := range areaRanges {
		// Stable sort of ground truth with ignored last.
		order := w.gtOrder[:0]
		for pass := range 2 {
			for g, gt := range im.gts {
				ig := gt.Crowd || gt.NumKeypoints == 0 || gt.Area < rng[0] || gt.Area > rng[1]
				if ig == (pass == 1) {
					order = append(order, g)
				}
			}
		}
		for j, g := range order {
			gt := im.gts[g]
			w.gtIg[j] = gt.Crowd || gt.NumKeypoints == 0 || gt.Area < rng[0] || gt.Area > rng[1]
			w.crowd[j] = gt.Crowd
			if !w.gtIg[j] {
				im.npig[a]++
			}
		}
		for t, thr := range oksThresholds {
			f := flags[(a*numThr+t)*total+im.off : (a*numThr+t)*total+im.off+D]
			clear(w.gtm[:G])
			for d := range D {
				m := -1
				if hasIoU {
					iou := min(thr, 1-1e-10)
					for j, g := range order {
						if w.gtm[j] && !w.crowd[j] {
							continue
						}
						if m > -1 && !w.gtIg[m] && w.gtIg[j] {
							break
						}
						v := w.ious[d*G+g]
						if v < iou {
							continue
						}
						iou = v
						m = j
					}
				}
				var fl uint8
				if m != -1 {
					if w.gtIg[m] {
						fl |= flagIgnored
					}
					if im.gts[order[m]].ID != 0 {
						fl |= flagMatched
					}
					w.gtm[m] = true
				}
				if fl&flagMatched == 0 && (dtArea[d] < rng[0] || dtArea[d] > rng[1]) {
					fl |= flagIgnored
				}
				f[d] = fl
			}
		}
	}
}

// oks is computeOks for one detection and one ground truth.
func (w *evalScratch) oks(dt *Result, gt *Annotation, vars []float64) float64 {
	k := len(vars)
	w.e = evGrow(w.e, k)[:0]
	area := gt.Area + spacing1
	for j, g := range gt.Keypoints {
		if g.V <= 0 {
			continue
		}
		dx := dt.Keypoints[j].X - g.X
		dy := dt.Keypoints[j].Y - g.Y
		e := float64(float64(dx*dx)+float64(dy*dy)) / vars[j] / area / 2
		w.e = append(w.e, expNeg(e))
	}
	if len(w.e) == 0 { // k1 == 0: no labeled joint
		return w.oksUnlabeled(dt, gt, vars)
	}
	return npPairwiseSum(w.e) / float64(len(w.e))
}

// oksUnlabeled is the k1 == 0 branch of computeOks: distance from each
// detected joint to the ground truth box enlarged by its own size.
func (w *evalScratch) oksUnlabeled(dt *Result, gt *Annotation, vars []float64) float64 {
	bb := gt.Box
	x0, x1 := bb.X-bb.W, bb.X+float64(bb.W*2)
	y0, y1 := bb.Y-bb.H, bb.Y+float64(bb.H*2)
	area := gt.Area + spacing1
	w.e = w.e[:0]
	for j, p := range dt.Keypoints {
		dx := max(0, x0-p.X) + max(0, p.X-x1)
		dy := max(0, y0-p.Y) + max(0, p.Y-y1)
		e := float64(float64(dx*dx)+float64(dy*dy)) / vars[j] / area / 2
		w.e = append(w.e, expNeg(e))
	}
	return npPairwiseSum(w.e) / float64(len(w.e))
}

// expNeg is math.Exp(-e), skipping the call where the result underflows
// to exactly 0 (e > 746), which is most joint pairs of distinct people.
func expNeg(e float64) float64 {
	if e > 746 {
		return 0
	}
	return math.Exp(-e)
}

// resultArea is the area pycocotools loadRes gives a keypoint result: the
// bbox area when a box is given, else the keypoint extent.
func resultArea(r *Result) float64 {
	if r.Box != nil {
		return r.Box.W * r.Box.H
	}
	if len(r.Keypoints) == 0 {
		return 0
	}
	x0, x1 := r.Keypoints[0].X, r.Keypoints[0].X
	y0, y1 := r.Keypoints[0].Y, r.Keypoints[0].Y
	for _, p := range r.Keypoints[1:] {
		x0, x1 = min(x0, p.X), max(x1, p.X)
		y0, y1 = min(y0, p.Y), max(y1, p.Y)
	}
	return (x1 - x0) * (y1 - y0)
}

// npPairwiseSum adds v in the order of numpy's pairwise summation (used by
// np.sum and np.mean on contiguous float64 arrays), so that sums agree with
// pycocotools to the last bit.
func npPairwiseSum(v []float64) float64 {
	n := len(v)
	switch {
	case n < 8:
		res := 0.0
		for _, x := range v {
			res += x
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], v[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range 8 {
				r[j] += v[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += v[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return npPairwiseSum(v[:n2]) + npPairwiseSum(v[n2:])
	}
}

func evGrow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func evGrowInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, 0, n)
	}
	return s[:0]
}

func evGrowBools(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}
