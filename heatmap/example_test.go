package heatmap_test

import (
	"fmt"

	"github.com/bsampose/bsampose/heatmap"
)

// ExampleMSRA encodes two joints of a 128x96 (h x w) input into 32x24
// heatmaps and decodes them back.
func ExampleMSRA() {
	c := heatmap.NewMSRA(96, 128) // heatmap 24x32 (w x h), sigma 1
	kps := []heatmap.Point{{X: 41, Y: 62}, {X: 10, Y: 10}}
	vis := []bool{true, false} // the second joint is not labeled

	hm := make([]float32, len(kps)*c.H*c.W)
	weights := c.Encode(hm, kps, vis)
	pts, scores := c.Decode(hm)

	// The plain codec quantises to the heatmap grid (4 input px here);
	// DARK: true recovers sub-pixel locations.
	fmt.Println("sigma", c.Sigma, "weights", weights)
	fmt.Printf("joint 0: (%.0f, %.0f) score %.2f\n", pts[0].X, pts[0].Y, scores[0])
	fmt.Printf("joint 1 score %.2f\n", scores[1])
	// Output:
	// sigma 1 weights [1 0]
	// joint 0: (40, 64) score 1.00
	// joint 1 score 0.00
}
