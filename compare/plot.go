package compare

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Plot writes val_pck.png, train_loss.png (per epoch, mean line with a
// min-max band over seeds, one colour per optimizer), val_pck_passes.png
// (val PCK@0.2 against gradient passes: epochs times the arm's passes
// per step, so that arms of equal compute end at the same x),
// train_loss_steps.png (the loss over steps, in blocks of
// Optim.StepBlock steps) and
// metrics.png (a grouped bar chart of the means over seeds of the last
// epoch's validation AP, AP50, AR and PCK@0.2, then of the final set's
// PCK@0.2, PCKh@0.5 and AP and the training probe's PCK@0.2 when runs have
// them) into dir.
func Plot(res *Results, dir string) error {
	epochX := func(_ *Optim, e int) float64 { return float64(e + 1) }
	passX := func(o *Optim, e int) float64 { return float64(e+1) * float64(armPasses(o)) }
	pck := func(o *Optim) []Stat { return o.PCK }
	curves := []struct {
		file, y, x, title string
		get               func(*Optim) []Stat
		xOf               func(*Optim, int) float64
		rising            bool // legend at the bottom right, below curves that rise
	}{
		{"val_pck.png", "val PCK@0.2", "epoch", "val PCK@0.2 per epoch", pck, epochX, true},
		{"val_pck_passes.png", "val PCK@0.2", "gradient passes over the training set (epochs × passes per step)",
			"val PCK@0.2 against compute", pck, passX, true},
		{"train_loss.png", "train loss (epoch mean)", "epoch", "train loss (epoch mean) per epoch", func(o *Optim) []Stat { return o.Loss }, epochX, false},
		{"train_loss_steps.png", "train loss (block mean)", "step", "train loss over steps", func(o *Optim) []Stat { return o.StepLoss },
			func(o *Optim, b int) float64 { return (float64(b) + 0.5) * float64(o.StepBlock) }, false},
	}
	for _, c := range curves {
		p := plot.New()
		p.Title.Text = c.title + " (mean, min–max over seeds)"
		p.X.Label.Text = c.x
		p.Y.Label.Text = c.y
		p.Legend.Top = !c.rising
		p.Legend.YOffs = vg.Points(4)
		if !c.rising {
			p.Legend.YOffs = -vg.Points(4)
		}
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
			col := armColor(i)
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
			line.Dashes = armDashes(i)
			line.Width = vg.Points(1.5)
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
		bars.Color = armColor(i)
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

// palette is Tableau's ten colours: more arms than plotutil's seven
// before a colour repeats; past ten, armDashes tells the repeats apart.
var palette = []color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

func armColor(i int) color.Color { return palette[i%len(palette)] }

// armDashes is solid for the first ten arms, then dashed, then dotted.
func armDashes(i int) []vg.Length {
	switch i / len(palette) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	}
	return nil
}

// armPasses is the gradient passes per step of the arm's runs (1 when
// the runs do not say).
func armPasses(o *Optim) int {
	for _, r := range o.Runs {
		if r.Passes > 0 {
			return r.Passes
		}
	}
	return 1
}
