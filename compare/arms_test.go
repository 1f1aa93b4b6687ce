package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/train"
)

func TestParseArms(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string // per arm: optim|items|name|baseline
		err  string   // substring of the error
	}{
		{list: "adam,sam,bsam,bsam-center", want: []string{"adam||adam|", "sam||sam|", "bsam||bsam|", "bsam-center||bsam-center|"}},
		{list: "sgd, sam[rho-max=0.05] ,bsam[base=adam,lr=1e-3,rho-max=5e-4,rho-min=5e-4],absam[adaptive,rho-max=0.5]", want: []string{
			"sgd||sgd|", "sam|rho-max=0.05|sam_rho-max-0.05|",
			"bsam|base=adam lr=1e-3 rho-max=5e-4 rho-min=5e-4|bsam_base-adam_lr-1e-3_rho-max-5e-4_rho-min-5e-4|",
			"absam|adaptive rho-max=0.5|absam_adaptive_rho-max-0.5|"}},
		// lr-steps keeps its commas; baseline is left out of the name and may hold brackets.
		{list: "sgd[lr-steps=90,120,lr=0.1],bsam[baseline=sgd[lr-steps=90,120,lr=0.1],rho-max=0.01]", want: []string{
			"sgd|lr-steps=90,120 lr=0.1|sgd_lr-steps-90_120_lr-0.1|",
			"bsam|rho-max=0.01|bsam_rho-max-0.01|sgd[lr-steps=90,120,lr=0.1]"}},
		{list: "bsam[name=ab,adaptive],bsam[adaptive]", want: []string{"bsam|adaptive|ab|", "bsam|adaptive|bsam_adaptive|"}},
		{list: "sam,sam", err: "same name"},
		{list: "sam[rho-max=0.1],sam[rho-max=0.1,baseline=sgd]", err: "same name"},
		{list: "sam[rho-max=0.1", err: "unclosed"},
		{list: "sam]", err: "unbalanced"},
		{list: "sam[rho-max=0.1]x", err: "after the closing"},
		{list: "sam[,]", err: "empty item"},
		{list: "[lr=1]", err: "no optimizer"},
		{list: " , ", err: "no arm"},
	} {
		t.Run(tc.list, func(t *testing.T) {
			arms, err := ParseArms(tc.list)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range arms {
				got = append(got, fmt.Sprintf("%s|%s|%s|%s", a.Optim, strings.Join(a.Items, " "), a.Name, a.Baseline))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestOptimConfig(t *testing.T) {
	base := train.Defaults()
	for _, tc := range []struct {
		name, optim      string
		center, adaptive bool
		sharedAdaptive   bool
	}{
		{"asam", "sam", false, true, false}, {"absam", "bsam", false, true, false}, {"bsam-center", "bsam", true, false, false},
		{"sam", "sam", false, true, true}, {"sgd", "sgd", false, false, true},
	} {
		b := base
		b.Adaptive = tc.sharedAdaptive
		c, err := OptimConfig(b, tc.name)
		if err != nil || c.Optim != tc.optim || c.FromCenter != tc.center || c.Adaptive != tc.adaptive {
			t.Errorf("%s (shared adaptive %v): optim %s center %v adaptive %v, %v", tc.name, tc.sharedAdaptive, c.Optim, c.FromCenter, c.Adaptive, err)
		}
	}
	if _, err := OptimConfig(base, "lion"); err == nil {
		t.Error("unknown optimizer accepted")
	}
}

// TestArmsBaselines: baselines resolve by name or text, the default
// baseline applies to every other arm, and an unknown one is refused.
func TestArmsBaselines(t *testing.T) {
	c := train.Defaults()
	c.Ann, c.Images = "a.json", "img"
	mk := func(name, text, base string, optim string) Arm {
		tc, _ := OptimConfig(c, optim)
		return Arm{Name: name, Text: text, Train: tc, Baseline: base}
	}
	cfg := Config{Train: c, Baseline: "sgd", Arms: []Arm{
		mk("sgd", "sgd", "", "sgd"), mk("sam_rho-max-0.1", "sam[rho-max=0.1]", "", "sam"),
		mk("bsam", "bsam", "sam[rho-max=0.1]", "bsam"),
	}}
	as, err := arms(cfg, filepath.Join("out", "split"))
	if err != nil {
		t.Fatal(err)
	}
	if as[0].Baseline != "" || as[1].Baseline != "sgd" || as[2].Baseline != "sam_rho-max-0.1" {
		t.Errorf("baselines %q %q %q", as[0].Baseline, as[1].Baseline, as[2].Baseline)
	}
	if as[1].Train.Ann != filepath.Join("out", "split", "train.json") || as[1].Train.ValAnn != filepath.Join("out", "split", "dev.json") || as[1].Train.ValImages != "img" {
		t.Errorf("dev split not applied: %s %s %s", as[1].Train.Ann, as[1].Train.ValAnn, as[1].Train.ValImages)
	}
	cfg.Baseline = "adam"
	if _, err := arms(cfg, ""); err == nil || !strings.Contains(err.Error(), `baseline "adam" is not an arm`) {
		t.Errorf("unknown baseline: %v", err)
	}
	cfg.Baseline = ""
	bad := mk("sgd_adaptive", "sgd[adaptive]", "", "sgd")
	bad.Train.Adaptive = true
	cfg.Arms = append(cfg.Arms, bad)
	if _, err := arms(cfg, ""); err == nil || !strings.Contains(err.Error(), `arm "sgd[adaptive]"`) {
		t.Errorf("invalid arm settings: %v", err)
	}
}

func TestBootstrapDiff(t *testing.T) {
	// Two seeds, 40 persons, 2 joints. The baseline hits joint 0 of every
	// person, never joint 1; the arm also hits joint 1 of the first 10
	// persons in seed 0 and the first 20 in seed 1: differences 0.125 and
	// 0.25 (joint means), mean 0.1875.
	const n = 40
	mkHits := func(extra int) [][]int8 {
		h := make([][]int8, n)
		for i := range h {
			h[i] = []int8{1, 0}
			if i < extra {
				h[i][1] = 1
			}
		}
		return h
	}
	base := [][][]int8{mkHits(0), mkHits(0)}
	arm := [][][]int8{mkHits(10), mkHits(20)}
	r := rand.New(rand.NewPCG(1, 2))
	mean, lo, hi := bootstrapDiff(arm, base, 4000, r)
	if math.Abs(mean-0.1875) > 1e-12 {
		t.Errorf("mean %v, want 0.1875", mean)
	}
	if !(lo > 0 && lo < mean && hi > mean && hi < 0.5) {
		t.Errorf("interval [%v, %v] should hold %v and exclude 0", lo, hi, mean)
	}
	// Against itself: exactly 0 with a zero-width interval.
	mean, lo, hi = bootstrapDiff(arm, arm, 200, r)
	if mean != 0 || lo != 0 || hi != 0 {
		t.Errorf("self difference %v [%v, %v]", mean, lo, hi)
	}
	// One seed whose arm adds a hit to half the persons: the interval's
	// half-width is about 1.96·sqrt(p(1-p)/n)/2 (the joint mean halves it).
	one := [][][]int8{mkHits(n / 2)}
	_, lo, hi = bootstrapDiff(one, [][][]int8{mkHits(0)}, 4000, r)
	want := 1.96 * math.Sqrt(0.25/n) / 2
	if half := (hi - lo) / 2; math.Abs(half-want) > 0.2*want {
		t.Errorf("half-width %v, want about %v", half, want)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.5, 3}, {1, 5}, {0.125, 1.5}} {
		if got := quantile(xs, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestHitStrings(t *testing.T) {
	h := [][]int8{{1, 0, -1}, {}}
	s := hitStrings(h)
	if fmt.Sprint(s) != "[10- ]" {
		t.Errorf("hitStrings %q", s)
	}
	back, err := parseHits(s)
	if err != nil || fmt.Sprint(back) != fmt.Sprint(h) {
		t.Errorf("parseHits %v, %v", back, err)
	}
	if _, err := parseHits([]string{"1x"}); err == nil {
		t.Error("bad hit accepted")
	}
}

// TestPortable: results.json's paths are relative: runs to the output
// folder, data to the repository root (this package's module).
func TestPortable(t *testing.T) {
	root := repoRoot()
	if root == "" {
		t.Fatal("no repository root above the test's working directory")
	}
	out := filepath.Join(root, "runs", "cmp")
	dir := filepath.Join(out, "runs", "adam-s1")
	res := &Results{
		Protocol: train.Config{Ann: filepath.Join(root, "..", "shared", "data", "a.json"), Images: "rel/img"},
		Split:    filepath.Join(out, "split"),
		Optims: []*Optim{{Name: "adam", Runs: []Run{{Dir: dir,
			Summary: &train.Summary{Last: filepath.Join(dir, "last.safetensors")},
			Eval:    &RunEval{Final: &SetEval{Ann: filepath.Join(out, "split", "dev.json")}}}}}},
	}
	p := portable(res, out)
	r := p.Optims[0].Runs[0]
	got := []string{p.Protocol.Ann, p.Protocol.Images, p.Split, r.Dir, r.Summary.Last, r.Eval.Final.Ann}
	// rel/img is relative to the working directory, compare/.
	want := []string{"../shared/data/a.json", "compare/rel/img", "runs/cmp/split", "runs/adam-s1", "runs/adam-s1/last.safetensors", "runs/cmp/split/dev.json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if res.Optims[0].Runs[0].Dir != dir || res.Protocol.Ann == p.Protocol.Ann {
		t.Error("portable changed its argument")
	}
}

func TestRevision(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"none", nil, ""},
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}, "abc123"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "abc123"}}, "abc123+dirty"},
		{"modified without revision", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, ""},
	} {
		if got := revision(tc.settings); got != tc.want {
			t.Errorf("%s: revision = %q, want %q", tc.name, got, tc.want)
		}
	}
}
