package pose

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"github.com/bsampose/bsampose/coco"
)

// DrawOverlay returns a copy of img with each person's skeleton drawn:
// limbs between joints of the schema's skeleton, and a disc per joint,
// coloured by side (left blue, right orange, centre green) and faded where
// the joint's score is below minScore.
func DrawOverlay(img image.Image, people []Person, s coco.Schema, minScore float64) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(b)
	draw.Draw(out, b, img, b.Min, draw.Src)
	size := math.Max(float64(b.Dx()), float64(b.Dy()))
	r := math.Max(2, size/160)
	side := jointSides(s)
	for _, p := range people {
		for _, e := range s.Skeleton {
			a, c := e[0], e[1]
			if a >= len(p.Keypoints) || c >= len(p.Keypoints) {
				continue
			}
			if p.Scores[a] < minScore || p.Scores[c] < minScore {
				continue
			}
			col := sideColour(side[a])
			if side[a] != side[c] {
				col = sideColour(0)
			}
			line(out, p.Keypoints[a], p.Keypoints[c], r*0.6, col)
		}
		for k, kp := range p.Keypoints {
			col := sideColour(side[k])
			if p.Scores[k] < minScore {
				col = color.RGBA{160, 160, 160, 255}
			}
			disc(out, kp.X, kp.Y, r, col)
		}
	}
	return out
}

// jointSides gives -1 for left joints, +1 for right joints, 0 otherwise,
// from the flip pairs (the first member of a pair is the left one).
func jointSides(s coco.Schema) []int {
	side := make([]int, s.K())
	for _, p := range s.FlipPairs {
		if p[0] != p[1] {
			side[p[0]], side[p[1]] = -1, 1
		}
	}
	return side
}

func sideColour(side int) color.RGBA {
	switch side {
	case -1:
		return color.RGBA{40, 120, 255, 255}
	case 1:
		return color.RGBA{255, 140, 20, 255}
	}
	return color.RGBA{40, 220, 90, 255}
}

func line(img *image.RGBA, a, b coco.Keypoint, r float64, col color.RGBA) {
	d := math.Hypot(b.X-a.X, b.Y-a.Y)
	n := int(d/math.Max(r*0.5, 0.5)) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		disc(img, a.X+t*(b.X-a.X), a.Y+t*(b.Y-a.Y), r, col)
	}
}

func disc(img *image.RGBA, cx, cy, r float64, col color.RGBA) {
	bb := img.Bounds()
	x0, x1 := int(math.Floor(cx-r)), int(math.Ceil(cx+r))
	y0, y1 := int(math.Floor(cy-r)), int(math.Ceil(cy+r))
	for y := max(y0, bb.Min.Y); y <= min(y1, bb.Max.Y-1); y++ {
		for x := max(x0, bb.Min.X); x <= min(x1, bb.Max.X-1); x++ {
			if (float64(x)-cx)*(float64(x)-cx)+(float64(y)-cy)*(float64(y)-cy) <= r*r {
				img.SetRGBA(x, y, col)
			}
		}
	}
}
