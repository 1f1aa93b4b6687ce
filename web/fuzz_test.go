package web

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func FuzzParseBox(f *testing.F) {
	for _, s := range []string{"0,0,10,10", " 1.5, 2 ,3,4 ", "1,2,3", "a,b,c,d", "0,0,-1,5", "1e400,0,1,1", "NaN,0,1,1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBox(s)
		if err != nil {
			return
		}
		for _, v := range []float64{b.X, b.Y, b.W, b.H} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("ParseBox(%q) = %+v: not finite", s, b)
			}
		}
		if !(b.W > 0 && b.H > 0) {
			t.Fatalf("ParseBox(%q) = %+v: empty box accepted", s, b)
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 6, 5))
	img.Set(2, 3, color.NRGBA{200, 10, 10, 255})
	var j bytes.Buffer
	jpeg.Encode(&j, img, nil)
	f.Add(j.Bytes())
	f.Add(pngOf(f, img))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := DecodeImage(b)
		if err != nil {
			return
		}
		r := im.Bounds()
		if r.Min != (image.Point{}) || r.Empty() || len(im.Pix) < 4*r.Dx()*r.Dy() {
			t.Fatalf("decoded image bounds %v with %d bytes", r, len(im.Pix))
		}
	})
}

// BenchmarkPredictAPI is POST /api/predict end to end (multipart parse,
// JPEG decode, native network) on a real LSPET image.
func BenchmarkPredictAPI(b *testing.B) {
	jpg := lspetImage(b, "im00001.jpg")
	e := newTestEcho(b, nil)
	body, ct := multipartBody(b, jpg, "")
	raw := body.Bytes()
	b.Run("lspet_im00001", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/api/predict", bytes.NewReader(raw))
			req.Header.Set("Content-Type", ct)
			if rec := do(e, req); rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
}

// BenchmarkServeWasm is one gzip download of a wasm-sized asset from the
// pre-compressed cache.
func BenchmarkServeWasm(b *testing.B) {
	e := newTestEcho(b, nil)
	b.Run("gzip_18KB", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "/posewasm.wasm", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			if rec := do(e, req); rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
}
