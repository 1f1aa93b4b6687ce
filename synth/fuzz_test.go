package synth

import (
	"math"
	"testing"
)

// FuzzRender draws scenes for arbitrary seeds, indices and small size
// ranges and checks the invariants of every person: 1..3 people, at least
// one labeled joint, labeled joints inside the image and the box, unlabeled
// joints at (0, 0), a finite positive area.
func FuzzRender(f *testing.F) {
	f.Add(int64(1), uint16(0), uint8(0), uint8(0))
	f.Add(int64(-7), uint16(999), uint8(255), uint8(3))
	f.Add(int64(math.MaxInt64), uint16(65535), uint8(30), uint8(200))
	f.Fuzz(func(t *testing.T, seed int64, index uint16, minExtra, span uint8) {
		o := Options{MinSize: 64 + int(minExtra)/2, MaxPeople: 3}
		o.MaxSize = o.MinSize + int(span)/2
		o, err := o.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c, people, noise := renderScene(seed, 0, int(index), o)
		if len(noise) != 3*c.w*c.h {
			t.Fatalf("noise has %d values for %dx%d", len(noise), c.w, c.h)
		}
		if len(people) < 1 || len(people) > 3 {
			t.Fatalf("%d people", len(people))
		}
		for pi, p := range people {
			if p.NumLabeled() == 0 {
				t.Errorf("person %d: no labeled joint", pi)
			}
			b := p.Box
			if b[0] < 0 || b[1] < 0 || b[2] <= 0 || b[3] <= 0 || b[0]+b[2] > float64(c.w) || b[1]+b[3] > float64(c.h) {
				t.Errorf("person %d: box %v in %dx%d", pi, b, c.w, c.h)
			}
			if !(p.Area > 0) || math.IsInf(p.Area, 0) {
				t.Errorf("person %d: area %g", pi, p.Area)
			}
			for k, kp := range p.Keypoints {
				switch {
				case kp.V == 0 && (kp.X != 0 || kp.Y != 0):
					t.Errorf("person %d %s: v=0 at (%g,%g)", pi, keypointNames[k], kp.X, kp.Y)
				case kp.V > 0 && (kp.X < 0 || kp.Y < 0 || kp.X > float64(c.w-1) || kp.Y > float64(c.h-1)):
					t.Errorf("person %d %s: (%g,%g) outside %dx%d", pi, keypointNames[k], kp.X, kp.Y, c.w, c.h)
				case kp.V > 0 && (kp.X < b[0] || kp.Y < b[1] || kp.X > b[0]+b[2] || kp.Y > b[1]+b[3]):
					t.Errorf("person %d %s: (%g,%g) outside box %v", pi, keypointNames[k], kp.X, kp.Y, b)
				}
			}
		}
	})
}
