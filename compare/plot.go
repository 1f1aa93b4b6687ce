package compare

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot writes val_pck.png, train_loss.png (per epoch, mean line with a
// min-max band over seeds, one colour per optimizer) and metrics.png (a
// grouped bar chart of the final AP, AP50, AR and PCK@0.2 means) into dir.
func Plot(res *Results, dir string) error {
	curves := []struct {
		file, y string
		get     func(*Optim) []Stat
	}{
		{"val_pck.png", "val PCK@0.2", func(o *Optim) []Stat { return o.PCK }},
		{"train_loss.png", "train loss (epoch mean)", func(o *Optim) []Stat { return o.Loss }},
	}
	for _, c := range curves {
		p := plot.New()
		p.Title.Text = c.y + " per epoch (mean, min–max over seeds)"
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = c.y
		p.Legend.Top = true
		for i, o := range res.Optims {
			st := c.get(o)
			var mean, band plotter.XYs
			for e, s := range st {
				if s.N == 0 {
					continue
				}
				mean = append(mean, plotter.XY{X: float64(e + 1), Y: s.Mean})
				band = append(band, plotter.XY{X: float64(e + 1), Y: s.Min})
			}
			if len(mean) == 0 {
				continue
			}
			for e := len(st) - 1; e >= 0; e-- {
				if st[e].N > 0 {
					band = append(band, plotter.XY{X: float64(e + 1), Y: st[e].Max})
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
			line, pts, err := plotter.NewLinePoints(mean)
			if err != nil {
				return fmt.Errorf("compare: plot: %w", err)
			}
			line.Color, pts.Color = col, col
			p.Add(poly, line, pts)
			p.Legend.Add(o.Name, line)
		}
		p.Add(plotter.NewGrid())
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, c.file)); err != nil {
			return fmt.Errorf("compare: plot %s: %w", c.file, err)
		}
	}

	names := []string{"AP", "AP50", "AR", "PCK@0.2"}
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
