package data

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
)

// rampImage is a w x h image with R = 10x, G = 10y, B = 7 (offset Rect
// to check that the origin is Rect.Min).
func rampImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(5, 3, 5+w, 3+h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(5+x, 3+y, color.NRGBA{uint8(10 * x), uint8(10 * y), 7, 255})
		}
	}
	return img
}

func TestWarp(t *testing.T) {
	const w, h = 8, 6
	img := rampImage(w, h)
	one := [3]float32{1, 1, 1}
	zero := [3]float32{}
	tests := []struct {
		name string
		m    Affine
		x, y int        // output pixel
		want [3]float32 // raw 0..255 values (mean 0, std 1/255 scaling applied below)
	}{
		{"identity", Identity, 3, 2, [3]float32{30, 20, 7}},
		{"identity last pixel", Identity, 7, 5, [3]float32{70, 50, 7}},
		{"half pixel shift", Affine{1, 0, -0.5, 0, 1, -0.5}, 3, 2, [3]float32{35, 25, 7}},
		{"scale 2", Affine{2, 0, 0, 0, 2, 0}, 3, 3, [3]float32{15, 15, 7}},
		{"mirror", Affine{-1, 0, w - 1, 0, 1, 0}, 0, 1, [3]float32{70, 10, 7}},
		{"far outside", Affine{1, 0, 100, 0, 1, 0}, 3, 2, [3]float32{}},
		// source x = -0.5: half the weight outside counts as 0 (the mean)
		{"left border", Affine{1, 0, 0.5, 0, 1, 0}, 0, 2, [3]float32{0, 10, 3.5}},
		// source (w-0.5, h-0.5): one quarter inside
		{"corner", Affine{1, 0, -(w - 0.5) + 3, 0, 1, -(h - 0.5) + 3}, 3, 3, [3]float32{70.0 / 4, 50.0 / 4, 7.0 / 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const W, H = 8, 8
			dst := make([]float32, 3*W*H)
			// std 1/255 turns the values back into 0..255.
			Warp(dst, img, tt.m, W, H, zero, [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255})
			for c := range 3 {
				if got := dst[(c*H+tt.y)*W+tt.x]; math.Abs(float64(got-tt.want[c])) > 1e-3 {
					t.Errorf("channel %d at (%d,%d) = %v, want %v", c, tt.x, tt.y, got, tt.want[c])
				}
			}
		})
	}
	// Normalisation and RGBA input.
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range rgba.Pix {
		rgba.Pix[i] = 255
	}
	dst := make([]float32, 3*4*4)
	Warp(dst, rgba, Identity, 4, 4, ImageNetMean, ImageNetStd)
	for c := range 3 {
		want := (1 - ImageNetMean[c]) / ImageNetStd[c]
		if got := dst[c*16+5]; math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("white channel %d = %v, want %v", c, got, want)
		}
	}
	// Other image types are converted.
	gray := image.NewGray(image.Rect(0, 0, 4, 4))
	gray.SetGray(1, 1, color.Gray{200})
	Warp(dst, gray, Identity, 4, 4, zero, one)
	for c := range 3 {
		if got := dst[c*16+5]; math.Abs(float64(got)-200.0/255) > 1e-6 {
			t.Errorf("grey channel %d = %v, want %v", c, got, 200.0/255)
		}
	}
}

func BenchmarkWarp(b *testing.B) {
	img := rampImage(250, 240) // LSPET median size
	for _, sz := range []struct{ h, w int }{{128, 96}, {256, 192}} {
		b.Run(fmt.Sprintf("H%dW%d", sz.h, sz.w), func(b *testing.B) {
			dst := make([]float32, 3*sz.h*sz.w)
			m := WarpMatrix([2]float64{125, 120}, [2]float64{150, 200}, 17, true, sz.w, sz.h)
			var n int
			c0 := cpuTime()
			for b.Loop() {
				Warp(dst, img, m, sz.w, sz.h, ImageNetMean, ImageNetStd)
				n++
			}
			if cpu := cpuTime() - c0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkSample measures one worker making augmented 128x96 samples
// with 32x24 targets from LSPET val: decoding every image, or with every
// image already in the decoded-image cache. samples/s per core is
// reported.
func BenchmarkSample(b *testing.B) {
	items, pairs := lspetVal(b)
	codec := heatmap.NewMSRA(96, 128)
	for _, bc := range []struct {
		name  string
		cache int64
	}{{"lspet_H128W96_decode", 0}, {"lspet_H128W96_cached", 1 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := cfg128
			cfg.CacheBytes = bc.cache
			const bs = 16
			l, err := NewLoader(items, cfg, DefaultAug(), codec, pairs, bs, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			if bc.cache > 0 { // warm the cache
				for _, err := range l.Epoch(context.Background(), 0) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			bt := l.newBatch()
			order := l.Order(1)
			var s Sample
			var n int
			c0 := cpuTime()
			for b.Loop() {
				bi := n % (len(order) / bs)
				if err := l.fill(context.Background(), bt, 1, bi, order, &s); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*bs)/b.Elapsed().Seconds(), "samples/s")
			if cpu := cpuTime() - c0; cpu > 0 {
				// CPU time, not wall time: per-core throughput even when
				// the machine is shared.
				b.ReportMetric(float64(n*bs)/cpu.Seconds(), "samples/cpu-s")
			}
		})
	}
}
