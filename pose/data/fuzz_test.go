package data

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeImage: any file content either decodes to a consistent,
// non-empty NRGBA image or fails with an error naming the file; it never
// panics.
func FuzzDecodeImage(f *testing.F) {
	img := dotImage(5, 4, [][2]int{{1, 1}})
	var pb, jb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		f.Fatal(err)
	}
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(pb.Bytes())
	f.Add(jb.Bytes())
	f.Add([]byte("GIF89a"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && (cfg.Width > 1<<20 || cfg.Height > 1<<20 || cfg.Width*cfg.Height > 1<<20) {
			return // valid but large: slow to decode, nothing new to learn
		}
		path := filepath.Join(dir, "fuzz.img")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		im, err := DecodeImage(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			return
		}
		w, h := im.Rect.Dx(), im.Rect.Dy()
		if w <= 0 || h <= 0 || len(im.Pix) < 4*w*h || im.Stride < 4*w {
			t.Errorf("inconsistent image: rect %v stride %d len %d", im.Rect, im.Stride, len(im.Pix))
		}
	})
}
