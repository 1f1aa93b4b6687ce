package compare

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Diff is the paired difference of one metric between an arm and its
// baseline arm: arm − baseline on the same seeds and the same persons.
type Diff struct {
	Arm       string   `json:"arm"`
	Baseline  string   `json:"baseline"`
	Metric    string   `json:"metric"` // a Metrics name
	Seeds     []int64  `json:"seeds"`  // the seeds both arms have
	Mean      float64  `json:"mean"`   // mean over Seeds of (arm − baseline)
	Lo        *float64 `json:"ci95_lo,omitempty"`
	Hi        *float64 `json:"ci95_hi,omitempty"` // bootstrap 95 % interval over persons and seeds (PCK metrics only)
	Persons   int      `json:"persons,omitempty"`
	Resamples int      `json:"resamples,omitempty"`
}

// Resamples is the number of bootstrap resamples of a paired difference.
const Resamples = 2000

// bootstrapDiff returns the point estimate and the percentile bootstrap
// 95 % interval of mean_s PCK(arm[s]) − PCK(base[s]), PCK being
// coco.PCKFromHits. arm[s] and base[s] are the hits (persons × K) of seed
// s of each arm, the persons the same in every run. One resample draws the
// seeds with replacement and, independently, the persons with
// replacement; the same persons are used for every drawn seed and both
// arms (the pairing). It panics if the shapes differ.
func bootstrapDiff(arm, base [][][]int8, resamples int, r *rand.Rand) (mean, lo, hi float64) {
	nS := len(arm)
	if nS == 0 || len(base) != nS {
		panic("compare: bootstrapDiff: seed counts differ or are 0")
	}
	nP := len(arm[0])
	for s := range nS {
		if len(arm[s]) != nP || len(base[s]) != nP {
			panic("compare: bootstrapDiff: person counts differ")
		}
	}
	k := 0
	if nP > 0 {
		k = len(arm[0][0])
	}
	all := make([]int, nP)
	for i := range all {
		all[i] = i
	}
	correct, counted := make([]int, k), make([]int, k)
	pck := func(h [][]int8, idx []int) float64 {
		clear(correct)
		clear(counted)
		for _, p := range idx {
			for j, v := range h[p] {
				if v >= 0 {
					counted[j]++
					correct[j] += int(v)
				}
			}
		}
		var m float64
		used := 0
		for j := range k {
			if counted[j] > 0 {
				m += float64(correct[j]) / float64(counted[j])
				used++
			}
		}
		if used > 0 {
			m /= float64(used)
		}
		return m
	}
	diff := func(seeds, idx []int) float64 {
		var d float64
		for _, s := range seeds {
			d += pck(arm[s], idx) - pck(base[s], idx)
		}
		return d / float64(len(seeds))
	}
	seedsAll := make([]int, nS)
	for i := range seedsAll {
		seedsAll[i] = i
	}
	mean = diff(seedsAll, all)
	stats := make([]float64, resamples)
	seeds, idx := make([]int, nS), make([]int, nP)
	for b := range resamples {
		for i := range seeds {
			seeds[i] = r.IntN(nS)
		}
		for i := range idx {
			idx[i] = r.IntN(nP)
		}
		stats[b] = diff(seeds, idx)
	}
	slices.Sort(stats)
	return mean, quantile(stats, 0.025), quantile(stats, 0.975)
}

// quantile returns the q-quantile of sorted xs by linear interpolation
// between order statistics (NaN for no xs).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

// pairedDiffs returns, for every arm with a baseline, its paired
// differences against it: final PCK@0.2 and PCKh@0.5 with a bootstrap
// interval over persons and seeds (runs whose hits.json is missing or
// covers other persons are left out), and final AP as a mean over seeds
// only. The bootstrap's random source is fixed, so the numbers are
// reproducible.
func pairedDiffs(optims []*Optim) []Diff {
	byName := map[string]*Optim{}
	for _, o := range optims {
		byName[o.Name] = o
	}
	var out []Diff
	for _, o := range optims {
		b := byName[o.Baseline]
		if o.Baseline == "" || b == nil {
			continue
		}
		type pair struct{ a, b Run }
		var pairs []pair
		for _, ra := range o.Runs {
			for _, rb := range b.Runs {
				if ra.Seed == rb.Seed {
					pairs = append(pairs, pair{ra, rb})
				}
			}
		}
		for _, m := range []string{"final PCK@0.2", "final PCKh@0.5"} {
			var ah, bh [][][]int8
			var seeds []int64
			for _, p := range pairs {
				x, y := runHits(p.a, m), runHits(p.b, m)
				if x == nil || y == nil || !slices.Equal(p.a.hits.AnnIDs, p.b.hits.AnnIDs) {
					continue
				}
				if len(ah) > 0 && len(x) != len(ah[0]) {
					continue
				}
				ah, bh, seeds = append(ah, x), append(bh, y), append(seeds, p.a.Seed)
			}
			if len(seeds) == 0 {
				continue
			}
			r := rand.New(rand.NewPCG(0xb5a1, 0x5eed))
			mean, lo, hi := bootstrapDiff(ah, bh, Resamples, r)
			out = append(out, Diff{Arm: o.Name, Baseline: b.Name, Metric: m, Seeds: seeds, Mean: mean,
				Lo: &lo, Hi: &hi, Persons: len(ah[0]), Resamples: Resamples})
		}
		var ds []float64
		var seeds []int64
		for _, p := range pairs {
			x, y := evalValue(p.a, "final AP"), evalValue(p.b, "final AP")
			if !math.IsNaN(x) && !math.IsNaN(y) {
				ds, seeds = append(ds, x-y), append(seeds, p.a.Seed)
			}
		}
		if len(ds) > 0 {
			out = append(out, Diff{Arm: o.Name, Baseline: b.Name, Metric: "final AP", Seeds: seeds, Mean: NewStat(ds).Mean})
		}
	}
	return out
}

// runHits returns the parsed hits of a run for a final PCK metric, or nil.
func runHits(r Run, metric string) [][]int8 {
	if r.hits == nil {
		return nil
	}
	ss := r.hits.PCK
	if metric == "final PCKh@0.5" {
		ss = r.hits.PCKh
	}
	if len(ss) == 0 {
		return nil
	}
	h, err := parseHits(ss)
	if err != nil {
		return nil
	}
	return h
}
