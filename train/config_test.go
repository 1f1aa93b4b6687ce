package train

import "testing"

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
