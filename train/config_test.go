package train

import (
	"testing"

	"github.com/bsampose/bsampose/optim"
)

// TestRhoDefaults: both radii default to DefaultRho whatever the base; a
// set value is kept, 0 included; a negative one is refused.
func TestRhoDefaults(t *testing.T) {
	for _, base := range []string{"adam", "adamw", "sgd"} {
		c := Defaults()
		c.Ann, c.Images, c.Optim, c.Base = "a.json", "img", "bsam", base
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.RhoMax != DefaultRho || c.RhoMin != DefaultRho || DefaultRho != 5e-4 {
			t.Errorf("base %s: radii %v, %v; want 5e-4", base, c.RhoMax, c.RhoMin)
		}
	}
	c := Defaults()
	c.Ann, c.Images, c.RhoMax, c.RhoMin = "a.json", "img", 0.05, 0
	if err := c.Validate(); err != nil || c.RhoMax != 0.05 || c.RhoMin != 0 {
		t.Errorf("set radii: %v, %v, %v", c.RhoMax, c.RhoMin, err)
	}
	c.RhoMax = -0.5
	if err := c.Validate(); err == nil {
		t.Error("a negative radius was accepted")
	}
}

// TestAdaptiveConfig: --adaptive builds adaptive SAM/BSAM with the given
// eta, is refused for plain optimizers, and a non-adaptive config saves no
// eta (so settings saved before the flag existed still match).
func TestAdaptiveConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		optim    string
		adaptive bool
		eta      float64
		wantErr  bool
		wantEta  float64
	}{
		{"bsam adaptive", "bsam", true, 0.01, false, 0.01},
		{"sam adaptive eta 0", "sam", true, 0, false, 0},
		{"bsam plain drops eta", "bsam", false, 0.01, false, 0},
		{"adam adaptive refused", "adam", true, 0.01, true, 0},
		{"negative eta refused", "sam", true, -1, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Ann, c.Images, c.Optim, c.Base, c.Adaptive, c.Eta = "a.json", "img", tc.optim, "sgd", tc.adaptive, tc.eta
			err := c.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Validate: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if c.Eta != tc.wantEta {
				t.Errorf("Eta %v, want %v", c.Eta, tc.wantEta)
			}
			s, _, _ := buildOptimizer(c, 10, 10)
			var got bool
			var eta float64
			switch o := s.(type) {
			case *optim.SAM:
				got, eta = o.Adaptive()
			case *optim.BSAM:
				got, eta = o.Config().Adaptive, o.Config().Eta
			default:
				t.Fatalf("built %T", s)
			}
			if got != tc.adaptive || (got && eta != tc.eta) {
				t.Errorf("optimizer adaptive %v eta %v, want %v %v", got, eta, tc.adaptive, tc.eta)
			}
		})
	}
	if Defaults().Eta != 0.01 {
		t.Errorf("default eta %v, want ASAM's 0.01", Defaults().Eta)
	}
}
