package sharp

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotProfile writes the loss profile L(w + αd) as a PNG (or any format
// gonum/plot infers from path's extension). alphas, losses: the same
// length. It panics if the lengths differ.
func PlotProfile(path, title string, alphas, losses []float64) error {
	if len(alphas) != len(losses) {
		panic("sharp: PlotProfile: alphas and losses differ in length")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "alpha (filter-normalised direction)"
	p.Y.Label.Text = "loss"
	pts := make(plotter.XYs, len(alphas))
	for i := range alphas {
		pts[i] = plotter.XY{X: alphas[i], Y: losses[i]}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("sharp: plot: %w", err)
	}
	p.Add(l, plotter.NewGrid())
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("sharp: plot %s: %w", path, err)
	}
	return nil
}
