package compare

import (
	"fmt"
	"strings"

	"github.com/bsampose/bsampose/train"
)

// Arm is one arm of a comparison: an optimizer with its own settings.
type Arm struct {
	Name     string       // unique; its runs live in Out/runs/<Name>-s<seed>
	Text     string       // as written in --optims, e.g. bsam[base=adam,lr=1e-3]
	Train    train.Config // its settings; Seed and Out are set per run, and Ann/ValAnn with Config.Dev
	Baseline string       // Name (or Text) of the arm its paired differences are taken against; "" for none
}

// ArmSpec is one parsed item of an --optims list:
//
//	optim[item,item,...]
//
// optim is sgd, adam, adamw, sam, bsam, bsam-center (bsam with the update
// applied at w), asam (sam with Adaptive) or absam (bsam with Adaptive);
// each item is "flag=value" or "flag" (a boolean flag set to true), flag
// being a training flag without its dashes. Two items are not flags:
// name=NAME sets the arm's name (and its run folders) and baseline=ARM the
// arm its paired differences are taken against. A value may contain
// commas when the next part starts with a digit (lr-steps=90,120) and
// brackets (baseline=bsam[base=adam]).
type ArmSpec struct {
	Text     string   // the item as written
	Optim    string   // the name before the brackets
	Items    []string // the training-flag items, in order ("rho-max=0.05", "adaptive")
	Name     string   // the arm's name: name=..., else DirName of optim[items...] without baseline
	Baseline string   // from baseline=..., "" when absent
}

// ParseArms splits an --optims list into arms. It fails on unbalanced
// brackets, an empty name or item, text after a closing bracket, and two
// arms with the same name.
func ParseArms(s string) ([]ArmSpec, error) {
	var texts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("compare: --optims %q: unbalanced ']' at byte %d", s, i)
			}
		case ',':
			if depth == 0 {
				texts = append(texts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("compare: --optims %q: unclosed '['", s)
	}
	texts = append(texts, s[start:])
	var arms []ArmSpec
	seen := map[string]string{}
	for _, t := range texts {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		a, err := parseArm(t)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[a.Name]; dup {
			return nil, fmt.Errorf("compare: arms %q and %q have the same name %q; add name=... to one", prev, t, a.Name)
		}
		seen[a.Name] = t
		arms = append(arms, a)
	}
	if len(arms) == 0 {
		return nil, fmt.Errorf("compare: --optims %q: no arm", s)
	}
	return arms, nil
}

func parseArm(t string) (ArmSpec, error) {
	a := ArmSpec{Text: t, Optim: t}
	open := strings.IndexByte(t, '[')
	if open < 0 {
		a.Name = DirName(t)
		return a, checkName(a)
	}
	if !strings.HasSuffix(t, "]") {
		return a, fmt.Errorf("compare: arm %q: text after the closing ']'", t)
	}
	a.Optim = strings.TrimSpace(t[:open])
	inner := t[open+1 : len(t)-1]
	var parts []string
	depth, start := 0, 0
	for i, c := range inner {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, inner[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, inner[start:])
	var items []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return a, fmt.Errorf("compare: arm %q: empty item", t)
		}
		if len(items) > 0 && p[0] >= '0' && p[0] <= '9' { // lr-steps=90,120
			items[len(items)-1] += "," + p
			continue
		}
		items = append(items, p)
	}
	for _, it := range items {
		key, val, _ := strings.Cut(it, "=")
		switch strings.TrimLeft(key, "-") {
		case "name":
			a.Name = DirName(val)
		case "baseline":
			a.Baseline = val
		default:
			a.Items = append(a.Items, strings.TrimLeft(it, "-"))
		}
	}
	if a.Name == "" {
		n := a.Optim
		if len(a.Items) > 0 {
			n += "[" + strings.Join(a.Items, ",") + "]"
		}
		a.Name = DirName(n)
	}
	return a, checkName(a)
}

func checkName(a ArmSpec) error {
	if a.Optim == "" || a.Name == "" {
		return fmt.Errorf("compare: arm %q: no optimizer name", a.Text)
	}
	return nil
}

// DirName turns an arm's text into a folder name: '[', ',' and any
// character outside [A-Za-z0-9.+_-] become '_', '=' becomes '-', ']' is
// dropped, and runs of '_' collapse: bsam[base=adam,lr=1e-3] becomes
// bsam_base-adam_lr-1e-3. Plain names (adam, bsam-center) are unchanged.
func DirName(text string) string {
	var b strings.Builder
	for _, c := range strings.TrimSpace(text) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '+', c == '-':
			b.WriteRune(c)
		case c == '=':
			b.WriteByte('-')
		case c == ']':
		default:
			if s := b.String(); len(s) > 0 && s[len(s)-1] != '_' {
				b.WriteByte('_')
			}
		}
	}
	return strings.Trim(b.String(), "_")
}

// OptimConfig returns base with the optimizer of an arm name set: Optim,
// FromCenter (bsam-center) and Adaptive (asam, absam; base's Adaptive for
// sam and bsam; false for the plain optimizers).
func OptimConfig(base train.Config, optim string) (train.Config, error) {
	c := base
	c.LRSteps = append([]int(nil), base.LRSteps...)
	c.Optim, c.FromCenter = optim, false
	switch optim {
	case "bsam-center":
		c.Optim, c.FromCenter = "bsam", true
	case "asam":
		c.Optim, c.Adaptive = "sam", true
	case "absam":
		c.Optim, c.Adaptive = "bsam", true
	case "sgd", "adam", "adamw":
		c.Adaptive = false // a shared --adaptive applies to the sharpness-aware arms
	case "sam", "bsam":
	default:
		return c, fmt.Errorf("compare: unknown optimizer %q (want sgd, adam, adamw, sam, bsam, bsam-center, asam or absam)", optim)
	}
	return c, nil
}

// passes returns the forward-backward passes per step of an optimizer.
func passes(c train.Config) int {
	switch c.Optim {
	case "sam":
		return 2
	case "bsam":
		return 3
	}
	return 1
}
