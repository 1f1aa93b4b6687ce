package synth

import (
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"testing"
)

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{100} {
		b.Run(fmt.Sprintf("N%d", n), func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				if err := Generate(context.Background(), dir, n, 1, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkRender measures one image on one core: drawing, then JPEG
// encoding.
func BenchmarkRender(b *testing.B) {
	for _, size := range []int{192, 288} {
		o := Options{MinSize: size, MaxSize: size}
		o, _ = o.withDefaults()
		b.Run(fmt.Sprintf("S%d", size), func(b *testing.B) {
			i := 0
			for b.Loop() {
				render(1, 0, i, o)
				i++
			}
		})
		b.Run(fmt.Sprintf("S%d_JPEG", size), func(b *testing.B) {
			img, _ := render(1, 0, 0, o)
			for b.Loop() {
				if err := jpeg.Encode(io.Discard, img, &jpeg.Options{Quality: o.Quality}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
