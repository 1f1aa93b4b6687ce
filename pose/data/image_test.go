package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/internal/shareddata"
	"github.com/disintegration/imaging"
)

func TestDecodeImageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "corrupt.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 this is not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.jpg")} {
		_, err := DecodeImage(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "data: ") {
			t.Errorf("DecodeImage(%s) error = %v, want one naming the file", path, err)
		}
	}
}

func TestDecodeImagePalette(t *testing.T) {
	dir := shareddata.Dir(t, "mmpose_testdata/jhmdb")
	var found string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && found == "" && strings.HasSuffix(p, ".png") {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Skip("no PNG in jhmdb")
	}
	f, err := os.Open(found)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pal, ok := raw.(*image.Paletted)
	if !ok {
		t.Skipf("%s is %T, not paletted", found, raw)
	}
	img, err := DecodeImage(found)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Size() != pal.Rect.Size() {
		t.Fatalf("size %v, want %v", img.Rect.Size(), pal.Rect.Size())
	}
	for _, p := range [][2]int{{0, 0}, {pal.Rect.Dx() / 2, pal.Rect.Dy() / 2}, {pal.Rect.Dx() - 1, pal.Rect.Dy() - 1}} {
		r, g, b, _ := pal.At(pal.Rect.Min.X+p[0], pal.Rect.Min.Y+p[1]).RGBA()
		got := img.NRGBAAt(p[0], p[1])
		if uint32(got.R) != r>>8 || uint32(got.G) != g>>8 || uint32(got.B) != b>>8 {
			t.Errorf("pixel %v = %v, want palette colour (%d,%d,%d)", p, got, r>>8, g>>8, b>>8)
		}
	}
}

func TestImageCache(t *testing.T) {
	dir := t.TempDir()
	paths := make([]string, 3)
	for i := range paths {
		paths[i] = filepath.Join(dir, string(rune('a'+i))+".png")
		f, err := os.Create(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, dotImage(10, 10, nil)); err != nil { // 400 bytes of pixels
			t.Fatal(err)
		}
		f.Close()
	}
	c := NewImageCache(900) // two images fit
	get := func(i int) image.Image {
		img, err := c.Get(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a := get(0)
	get(1)
	if get(0) != a {
		t.Errorf("second Get(a) did not hit the cache")
	}
	get(2) // evicts b, the least recently used
	n, bytes, hits, misses := c.Stats()
	if n != 2 || bytes != 800 || hits != 1 || misses != 3 {
		t.Errorf("Stats = %d images, %d bytes, %d hits, %d misses; want 2, 800, 1, 3", n, bytes, hits, misses)
	}
	if get(0) != a {
		t.Errorf("a was evicted instead of b")
	}
	get(1)
	if _, _, _, misses := c.Stats(); misses != 4 {
		t.Errorf("b was not evicted: misses %d, want 4", misses)
	}
	if _, err := c.Get(filepath.Join(dir, "none.png")); err == nil || !strings.Contains(err.Error(), "none.png") {
		t.Errorf("missing file error = %v", err)
	}
}

// TestYCbCrToNRGBA compares the fast JPEG conversion with imaging.Clone
// for every subsampling ratio and an offset rectangle.
func TestYCbCrToNRGBA(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, ratio := range ratios {
		t.Run(ratio.String(), func(t *testing.T) {
			full := image.NewYCbCr(image.Rect(0, 0, 13, 11), ratio)
			for _, p := range [][]uint8{full.Y, full.Cb, full.Cr} {
				for i := range p {
					p[i] = uint8(r.IntN(256))
				}
			}
			for _, src := range []*image.YCbCr{full, full.SubImage(image.Rect(3, 1, 12, 10)).(*image.YCbCr)} {
				got, want := ycbcrToNRGBA(src), imaging.Clone(src)
				if got.Rect != want.Rect {
					t.Fatalf("rect %v, want %v", got.Rect, want.Rect)
				}
				for i := range got.Pix {
					if got.Pix[i] != want.Pix[i] {
						t.Fatalf("%v: byte %d = %d, want %d", src.Rect, i, got.Pix[i], want.Pix[i])
					}
				}
			}
		})
	}
}

// TestWarpYCbCr: warping a real JPEG straight from YCbCr matches warping
// its NRGBA conversion to within rounding, including the border.
func TestWarpYCbCr(t *testing.T) {
	items, _ := lspetVal(t)
	for _, it := range items[:3] {
		raw, err := decodeForWarp(it.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		y, ok := raw.(*image.YCbCr)
		if !ok {
			t.Fatalf("%s decoded as %T, want *image.YCbCr", it.ImagePath, raw)
		}
		n, err := DecodeImage(it.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		// a large region so that part of the input lies outside the image
		m := cfg128.Transform(it, Params{Scale: 2.5, Rot: 20, Flip: true})
		a, b := make([]float32, 3*96*128), make([]float32, 3*96*128)
		one := [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}
		Warp(a, y, m, 96, 128, [3]float32{}, one)
		Warp(b, n, m, 96, 128, [3]float32{}, one)
		var sum float64
		var zeros, far int
		for i := range a {
			d := math.Abs(float64(a[i] - b[i]))
			sum += d
			if d > 2 {
				far++ // saturated chroma edges
			}
			if a[i] == 0 && b[i] == 0 {
				zeros++
			}
		}
		if mean := sum / float64(len(a)); mean > 0.3 || far > len(a)/200 {
			t.Errorf("%s: YCbCr vs NRGBA warp differ by mean %.3f levels, %d values by more than 2", it.ImagePath, mean, far)
		}
		if zeros == 0 {
			t.Errorf("%s: no pixel outside the image; the border is not exercised", it.ImagePath)
		}
	}
	// Sub-images keep their chroma alignment.
	full := image.NewYCbCr(image.Rect(0, 0, 12, 10), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(1, 1))
	for _, p := range [][]uint8{full.Y, full.Cb, full.Cr} {
		for i := range p {
			p[i] = uint8(110 + r.IntN(36)) // RGB stays inside 0..255: no clamping
		}
	}
	sub := full.SubImage(image.Rect(3, 1, 11, 9)).(*image.YCbCr)
	a, b := make([]float32, 3*8*8), make([]float32, 3*8*8)
	one := [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}
	m := Affine{0.9, 0.1, 0.3, -0.1, 0.9, 0.6}
	Warp(a, sub, m, 8, 8, [3]float32{}, one)
	Warp(b, ycbcrToNRGBA(sub), m, 8, 8, [3]float32{}, one)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 0.6 { // byte rounding of the NRGBA path
			t.Fatalf("sub-image pixel %d: %v vs %v", i, a[i], b[i])
		}
	}
}

// TestDecodeImageEXIF: a JPEG whose EXIF orientation is 6 (rotate 90
// degrees clockwise to display) comes out upright.
func TestDecodeImageEXIF(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 32, 16)) // left half dark, right half bright
	for y := range 16 {
		for x := range 32 {
			v := uint8(20)
			if x >= 16 {
				v = 230
			}
			src.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// APP1 Exif segment: little-endian TIFF, one IFD entry: Orientation
	// (0x0112), SHORT, count 1, value 6.
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	raw := buf.Bytes()
	file := append(append(append([]byte{}, raw[:2]...), app1...), raw[2:]...)
	path := filepath.Join(t.TempDir(), "rotated.jpg")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(path)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 16 || img.Rect.Dy() != 32 {
		t.Fatalf("size %v, want 16x32 (rotated)", img.Rect.Size())
	}
	// Rotating clockwise puts the former left (dark) half at the top.
	if top, bottom := img.NRGBAAt(8, 4).R, img.NRGBAAt(8, 28).R; top > 60 || bottom < 190 {
		t.Errorf("top %d, bottom %d: want dark top, bright bottom", top, bottom)
	}
	// The loader's decoder agrees.
	img2, err := decodeForWarp(path)
	if err != nil {
		t.Fatal(err)
	}
	if img2.Bounds().Dx() != 16 {
		t.Errorf("decodeForWarp size %v, want 16x32", img2.Bounds().Size())
	}
}
