package demorun

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// writeChart draws the page views of the run as an SVG (gonum/plot, its
// SVG backend): for each result — the API's answer, a failure (500), the
// ambassador's canned response — how many views had it so far, over the
// seconds since the demo started; dashed lines mark when Prometheus saw the
// circuit alert fire and resolve.
func writeChart(path string, r *Report) error {
	p, err := chartPlot(r)
	if err != nil {
		return err
	}
	c := vgsvg.New(9*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(c))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func chartPlot(r *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "sidecarize demo (seed 1, v3): page views through the circuit breaker"
	p.X.Label.Text = "seconds since the demo started"
	p.Y.Label.Text = "page views so far"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	series := []struct {
		result, label string
		color         color.Color
	}{
		{"ok", "good (the API's answer)", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
		{"failed", "failed (500)", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
		{"degraded", "canned (circuit open)", color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
	}
	end := 0.0
	if n := len(r.Views); n > 0 {
		end = r.Views[n-1].At.Seconds()
	}
	ymax := 0.0
	for _, s := range series {
		xys := plotter.XYs{{X: 0, Y: 0}}
		n := 0
		for _, v := range r.Views {
			if v.Result != s.result {
				continue
			}
			// A step: the count holds until the view, then rises.
			xys = append(xys, plotter.XY{X: v.At.Seconds(), Y: float64(n)})
			n++
			xys = append(xys, plotter.XY{X: v.At.Seconds(), Y: float64(n)})
		}
		xys = append(xys, plotter.XY{X: end, Y: float64(n)})
		ymax = max(ymax, float64(n))
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = s.color
		l.LineStyle.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s: %d", s.label, n), l)
	}
	// Whole page views on the y axis.
	step := math.Max(1, math.Ceil(ymax/25)*5)
	var ticks []plot.Tick
	for v := 0.0; v <= ymax+step/2; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	for _, m := range []struct {
		at    float64
		label string
		color color.Color
	}{
		{r.CircuitFiring.Seconds(), "Prometheus: SidecarizeCircuitOpen firing", color.RGBA{R: 0x90, G: 0x10, B: 0x10, A: 0xff}},
		{r.CircuitResolved.Seconds(), "Prometheus: SidecarizeCircuitOpen resolved", color.RGBA{R: 0x10, G: 0x60, B: 0x10, A: 0xff}},
	} {
		if m.at == 0 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: m.at, Y: 0}, {X: m.at, Y: ymax}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = m.color
		l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%.1fs)", m.label, m.at), l)
	}
	return p, nil
}
