package train

import "testing"

// TestRhoDefaults: an unset radius follows the base optimizer; a set one
// is kept, including 0.
func TestRhoDefaults(t *testing.T) {
	for _, tc := range []struct {
		name           string
		base           string
		rhoMax, rhoMin float64
		wantMax        float64
		wantMin        float64
	}{
		{"adam base, auto", "adam", RhoAuto, RhoAuto, AdamRho, AdamRho},
		{"adamw base, auto", "adamw", RhoAuto, RhoAuto, AdamRho, AdamRho},
		{"sgd base, auto: the official radii", "sgd", RhoAuto, RhoAuto, 0.05, 0.05},
		{"explicit values kept", "adam", 0.05, 0.01, 0.05, 0.01},
		{"zero kept", "sgd", 0, RhoAuto, 0, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Ann, c.Images = "a.json", "img"
			c.Optim, c.Base, c.RhoMax, c.RhoMin = "bsam", tc.base, tc.rhoMax, tc.rhoMin
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.RhoMax != tc.wantMax || c.RhoMin != tc.wantMin {
				t.Errorf("radii %v, %v; want %v, %v", c.RhoMax, c.RhoMin, tc.wantMax, tc.wantMin)
			}
		})
	}
	c := Defaults()
	c.Ann, c.Images, c.RhoMax = "a.json", "img", -0.5
	if err := c.Validate(); err == nil {
		t.Error("a negative radius other than RhoAuto was accepted")
	}
}
