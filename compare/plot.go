package compare

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot writes val_pck.png, train_loss.png (per epoch, mean line with a
// min-max band over seeds, one colour per optimizer), train_loss_steps.png
// (the same over steps, in blocks of Optim.StepBlock steps) and
// metrics.png (a grouped bar chart of the means over seeds of the last
// epoch's validation AP, AP50, AR and PCK@0.2, then of the final set's
// PCK@0.2, PCKh@0.5 and AP and the training probe's PCK@0.2 when runs have
// them) into dir.
func Plot(res *Results, dir string) error {
	epochX := func(_ *Optim, e int) float64 { return float64(e + 1) }
	curves := []struct {
		file, y, x, title string
		get               func(*Optim) []Stat
		xOf               func(*Optim, int) float64
	}{
		{"val_pck.png", "val PCK@0.2", "epoch", "val PCK@0.2 per epoch", func(o *Optim) []Stat { return o.PCK }, epochX},
		{"train_loss.png", "train loss (epoch mean)", "epoch", "train loss (epoch mean) per epoch", func(o *Optim) []Stat { return o.Loss }, epochX},
		{"train_loss_steps.png", "train loss (block mean)", "step", "train loss over steps", func(o *Optim) []Stat { return o.StepLoss },
			func(o *Optim, b int) float64 { return (float64(b) + 0.5) * float64(o.StepBlock) }},
	}
	for _, c := range curves {
		p := plot.New()
		p.Title.Text = c.title + " (mean, min–max over seeds)"
		p.X.Label.Text = c.x
		p.Y.Label.Text = c.y
		p.Legend.Top = true
		for i, o := range res.Optims {
			st := c.get(o)
			var mean, band plotter.XYs
			for e, s := range st {
				if s.N == 0 {
					continue
				}
				mean = append(mean, plotter.XY{X: c.xOf(o, e), Y: s.Mean})
				band = append(band, plotter.XY{X: c.xOf(o, e), Y: s.Min})
			}
			if len(mean) == 0 {
				continue
			}
			for e := len(st) - 1; e >= 0; e-- {
				if st[e].N > 0 {
					band = append(band, plotter.XY{X: c.xOf(o, e), Y: st[e].Max})
				}
			}
			col := plotutil.Color(i)
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return fmt.Errorf("compare: plot: %w", err)
			}
			r, g, b, _ := col.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
			poly.LineStyle.Width = 0
			line, err := plotter.NewLine(mean)
			if err != nil {
				return fmt.Errorf("compare: plot: %w", err)
			}
			line.Color = col
			p.Add(poly, line)
			if len(mean) <= 60 { // marks where they can still be told apart
				pts, err := plotter.NewScatter(mean)
				if err != nil {
					return fmt.Errorf("compare: plot: %w", err)
				}
				pts.Color = col
				p.Add(pts)
			}
			p.Legend.Add(o.Name, line)
		}
		p.Add(plotter.NewGrid())
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, c.file)); err != nil {
			return fmt.Errorf("compare: plot %s: %w", c.file, err)
		}
	}

	names := []string{"AP", "AP50", "AR", "PCK@0.2"}
	for _, m := range []string{"final PCK@0.2", "final PCKh@0.5", "final AP", "probe PCK@0.2"} {
		for _, o := range res.Optims {
			if o.Stats[m].N > 0 && !slices.Contains(names, m) {
				names = append(names, m) // only the metrics some arm has
			}
		}
	}
	p := plot.New()
	p.Title.Text = "final validation metrics (mean over seeds)"
	p.Legend.Top, p.Legend.Left = true, true
	top := 0.05
	w := vg.Points(60 / float64(max(len(res.Optims), 1)))
	for i, o := range res.Optims {
		vals := make(plotter.Values, len(names))
		for j, m := range names {
			v := o.Stats[m].Mean
			if math.IsNaN(v) {
				v = 0
			}
			vals[j] = v
			top = max(top, v)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("compare: plot: %w", err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(float64(i)-float64(len(res.Optims)-1)/2)
		p.Add(bars)
		p.Legend.Add(o.Name, bars)
	}
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, 1.3*top // room for the legend
	p.Add(plotter.NewGrid())
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, "metrics.png")); err != nil {
		return fmt.Errorf("compare: plot metrics.png: %w", err)
	}
	return nil
}
