package coco

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// DefaultSigma is the OKS sigma given to a joint whose name has no known
// value: the mean of COCO's 17 sigmas (1.138/17 = 0.0669), rounded. The
// loader records a warning in Dataset.Quirks for every such joint.
const DefaultSigma = 0.067

// knownSigmas holds OKS sigmas keyed by normalised joint name: COCO's 17
// values (pycocotools) plus the CrowdPose values for neck and head top.
var knownSigmas = map[string]float64{
	"nose":           0.026,
	"left_eye":       0.025,
	"right_eye":      0.025,
	"left_ear":       0.035,
	"right_ear":      0.035,
	"left_shoulder":  0.079,
	"right_shoulder": 0.079,
	"left_elbow":     0.072,
	"right_elbow":    0.072,
	"left_wrist":     0.062,
	"right_wrist":    0.062,
	"left_hip":       0.107,
	"right_hip":      0.107,
	"left_knee":      0.087,
	"right_knee":     0.087,
	"left_ankle":     0.089,
	"right_ankle":    0.089,
	"neck":           0.079,
	"head_top":       0.079,
	"head":           0.079,
}

// coco17Names are the COCO person keypoint names in file order.
var coco17Names = []string{
	"nose", "left_eye", "right_eye", "left_ear", "right_ear",
	"left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
	"left_wrist", "right_wrist", "left_hip", "right_hip",
	"left_knee", "right_knee", "left_ankle", "right_ankle",
}

// coco17Skeleton is COCO's official skeleton, 1-based as in the files.
var coco17Skeleton = [][2]int{
	{16, 14}, {14, 12}, {17, 15}, {15, 13}, {12, 13}, {6, 12}, {7, 13},
	{6, 7}, {6, 8}, {7, 9}, {8, 10}, {9, 11}, {2, 3}, {1, 2}, {1, 3},
	{2, 4}, {3, 5}, {4, 6}, {5, 7},
}

// COCO17 returns the standard COCO 17-joint person schema: the official
// names, the official skeleton converted to 0-based indices, the flip pairs
// (1,2) (3,4) ... (15,16) and pycocotools' OKS sigmas.
func COCO17() Schema {
	sk := make([][2]int, len(coco17Skeleton))
	for i, e := range coco17Skeleton {
		sk[i] = [2]int{e[0] - 1, e[1] - 1}
	}
	return NewSchema(coco17Names, sk)
}

// NewSchema builds a schema from joint names and a 0-based skeleton (pairs
// of indices into names). Flip pairs are derived from the names (see
// FlipPairsOf) and sigmas from the names (see SigmaOf). The slices are
// copied. It panics if a skeleton index is outside [0, len(names)).
func NewSchema(names []string, skeleton [][2]int) Schema {
	k := len(names)
	for _, e := range skeleton {
		if e[0] < 0 || e[0] >= k || e[1] < 0 || e[1] >= k {
			panic(fmt.Sprintf("coco: skeleton edge %v out of range for %d joints", e, k))
		}
	}
	s := Schema{
		Names:     append([]string(nil), names...),
		Skeleton:  append([][2]int{}, skeleton...),
		FlipPairs: FlipPairsOf(names),
		Sigmas:    make([]float64, k),
	}
	for i, n := range names {
		s.Sigmas[i], _ = SigmaOf(n)
	}
	return s
}

// NormalizeName lowercases a joint name and maps spaces and hyphens to
// underscores, so "Right Shoulder", "Right-shoulder" and "right_shoulder"
// compare equal.
func NormalizeName(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(n)
}

// SigmaOf returns the OKS sigma for a joint name (compared after
// NormalizeName) and whether it is known; unknown names get DefaultSigma.
func SigmaOf(name string) (float64, bool) {
	if s, ok := knownSigmas[NormalizeName(name)]; ok {
		return s, true
	}
	return DefaultSigma, false
}

// sideOf splits a normalised name into its side ('l', 'r' or 0) and the
// remaining base name. It recognises left_/right_ and l_/r_ prefixes and
// _left/_right suffixes.
func sideOf(n string) (byte, string) {
	switch {
	case strings.HasPrefix(n, "left_"):
		return 'l', n[len("left_"):]
	case strings.HasPrefix(n, "right_"):
		return 'r', n[len("right_"):]
	case strings.HasPrefix(n, "l_"):
		return 'l', n[len("l_"):]
	case strings.HasPrefix(n, "r_"):
		return 'r', n[len("r_"):]
	case strings.HasSuffix(n, "_left"):
		return 'l', n[:len(n)-len("_left")]
	case strings.HasSuffix(n, "_right"):
		return 'r', n[:len(n)-len("_right")]
	}
	return 0, n
}

// FlipPairsOf pairs each left joint with the right joint of the same base
// name (left_*/right_*, l_*/r_*, *_left/*_right, compared after
// NormalizeName). Each pair is (i, j) with i < j, 0-based indices into
// names, sorted by i. Joints without a mirrored partner map to themselves
// and are not listed.
func FlipPairsOf(names []string) [][2]int {
	left := map[string]int{}
	right := map[string]int{}
	for i, name := range names {
		side, base := sideOf(NormalizeName(name))
		if base == "" {
			continue
		}
		switch side {
		case 'l':
			if _, dup := left[base]; !dup {
				left[base] = i
			}
		case 'r':
			if _, dup := right[base]; !dup {
				right[base] = i
			}
		}
	}
	pairs := [][2]int{}
	for base, i := range left {
		j, ok := right[base]
		if !ok {
			continue
		}
		if i > j {
			i, j = j, i
		}
		pairs = append(pairs, [2]int{i, j})
	}
	sort.Slice(pairs, func(a, b int) bool { return pairs[a][0] < pairs[b][0] })
	return pairs
}

// Index returns the index of the joint with the given name (compared after
// NormalizeName), or -1.
func (s Schema) Index(name string) int {
	n := NormalizeName(name)
	for i, m := range s.Names {
		if NormalizeName(m) == n {
			return i
		}
	}
	return -1
}

// FlipIndex returns the permutation that maps joint i to its mirrored
// joint under a horizontal flip: len K, perm[i] == i for unpaired joints.
func (s Schema) FlipIndex() []int {
	perm := make([]int, s.K())
	for i := range perm {
		perm[i] = i
	}
	for _, p := range s.FlipPairs {
		perm[p[0]], perm[p[1]] = p[1], p[0]
	}
	return perm
}

// WithSigmas returns a copy of s whose OKS sigmas are replaced by sigmas
// (len K, each finite and > 0), for a command-line override.
func (s Schema) WithSigmas(sigmas []float64) (Schema, error) {
	if len(sigmas) != s.K() {
		return Schema{}, fmt.Errorf("coco: sigmas: got %d values, want %d (one per joint)", len(sigmas), s.K())
	}
	for i, v := range sigmas {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return Schema{}, fmt.Errorf("coco: sigmas: value %d (%s) is %v, want finite > 0", i, s.Names[i], v)
		}
	}
	c := s.clone()
	c.Sigmas = append([]float64(nil), sigmas...)
	return c, nil
}

// Validate reports whether the schema is consistent: len(Sigmas) == K,
// finite positive sigmas, skeleton and flip-pair indices in [0, K).
func (s Schema) Validate() error {
	k := s.K()
	if len(s.Sigmas) != k {
		return fmt.Errorf("coco: schema: %d sigmas for %d joints", len(s.Sigmas), k)
	}
	for i, v := range s.Sigmas {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("coco: schema: sigma %d is %v, want finite > 0", i, v)
		}
	}
	for _, e := range s.Skeleton {
		if e[0] < 0 || e[0] >= k || e[1] < 0 || e[1] >= k {
			return fmt.Errorf("coco: schema: skeleton edge %v out of range for %d joints", e, k)
		}
	}
	for _, e := range s.FlipPairs {
		if e[0] < 0 || e[0] >= k || e[1] < 0 || e[1] >= k {
			return fmt.Errorf("coco: schema: flip pair %v out of range for %d joints", e, k)
		}
	}
	return nil
}

func (s Schema) clone() Schema {
	return Schema{
		Names:     append([]string(nil), s.Names...),
		Skeleton:  append([][2]int(nil), s.Skeleton...),
		FlipPairs: append([][2]int(nil), s.FlipPairs...),
		Sigmas:    append([]float64(nil), s.Sigmas...),
	}
}
