package data

import (
	"bytes"
	"container/list"
	"fmt"
	"image"
	"image/color"
	"os"
	"sync"

	"github.com/disintegration/imaging"
)

// MaxImagePixels bounds the size an image header may claim before its
// pixels are decoded (a corrupt header must not exhaust memory).
const MaxImagePixels = 1 << 26

// DecodeImage reads an image file (JPEG, PNG, GIF, BMP, TIFF) with EXIF
// orientation applied and returns it as *image.NRGBA with origin (0, 0)
// (palette, grey and CMYK images are converted to RGB; alpha is kept but
// ignored by Warp). Errors name the file.
func DecodeImage(path string) (*image.NRGBA, error) {
	img, err := decodeForWarp(path)
	if err != nil {
		return nil, err
	}
	if y, ok := img.(*image.YCbCr); ok {
		return ycbcrToNRGBA(y), nil
	}
	return img.(*image.NRGBA), nil
}

// decodeForWarp is DecodeImage except that a JPEG stays *image.YCbCr
// (what Warp reads fastest and what the cache stores in 1.5-3 bytes per
// pixel instead of 4); every other image is *image.NRGBA.
func decodeForWarp(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: read image: %w", err) // *PathError names the file
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("data: decode image %s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxImagePixels || cfg.Height > MaxImagePixels ||
		int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, fmt.Errorf("data: decode image %s: size %dx%d outside 1..%d pixels", path, cfg.Width, cfg.Height, MaxImagePixels)
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("data: decode image %s: %w", path, err)
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("data: decode image %s: empty image", path)
	}
	switch im := img.(type) {
	case *image.NRGBA:
		return im, nil
	case *image.YCbCr:
		return im, nil
	}
	return imaging.Clone(img), nil
}

// imageBytes is the memory held by a decoded image's pixels.
func imageBytes(img image.Image) int64 {
	switch im := img.(type) {
	case *image.NRGBA:
		return int64(len(im.Pix))
	case *image.YCbCr:
		return int64(len(im.Y) + len(im.Cb) + len(im.Cr))
	}
	return 0
}

// ImageCache is a concurrency-safe least-recently-used cache of decoded
// images bounded by their pixel bytes (JPEGs are kept as YCbCr, 1.5 bytes
// per pixel for 4:2:0). Cached images are shared and must not be
// modified.
type ImageCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	ll       *list.List // front = most recent; values are *cacheEntry
	m        map[string]*list.Element
	hits     int64
	misses   int64
}

type cacheEntry struct {
	path string
	img  image.Image
}

// NewImageCache returns a cache holding at most maxBytes bytes of pixels.
// A cache with maxBytes <= 0 keeps nothing.
func NewImageCache(maxBytes int64) *ImageCache {
	return &ImageCache{maxBytes: maxBytes, ll: list.New(), m: make(map[string]*list.Element)}
}

// Get returns the decoded image at path (*image.YCbCr for a JPEG,
// *image.NRGBA otherwise, as Warp reads them), from the cache when
// present, otherwise decoding it and caching it. A nil cache just
// decodes. Errors name the file.
func (c *ImageCache) Get(path string) (image.Image, error) {
	if c == nil {
		return decodeForWarp(path)
	}
	c.mu.Lock()
	if e, ok := c.m[path]; ok {
		c.ll.MoveToFront(e)
		c.hits++
		img := e.Value.(*cacheEntry).img
		c.mu.Unlock()
		return img, nil
	}
	c.misses++
	c.mu.Unlock()
	img, err := decodeForWarp(path)
	if err != nil {
		return nil, err
	}
	size := imageBytes(img)
	if size > c.maxBytes {
		return img, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok { // decoded concurrently by another worker
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).img, nil
	}
	c.m[path] = c.ll.PushFront(&cacheEntry{path, img})
	c.bytes += size
	for c.bytes > c.maxBytes {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.m, ce.path)
		c.bytes -= imageBytes(ce.img)
	}
	return img, nil
}

// Stats returns the number of cached images, their bytes, and the hit and
// miss counts so far.
func (c *ImageCache) Stats() (images int, bytes, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes, c.hits, c.misses
}

// ycbcrToNRGBA converts a decoded JPEG to NRGBA with origin (0, 0), the
// same colours as image/color's YCbCr model (and imaging.Clone) at a
// fraction of the cost.
func ycbcrToNRGBA(src *image.YCbCr) *image.NRGBA {
	sx, sy := chromaShifts(src.SubsampleRatio)
	b := src.Rect
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		yrow := src.Y[(y-b.Min.Y)*src.YStride:]
		crow := (y>>sy - b.Min.Y>>sy) * src.CStride
		out := dst.Pix[(y-b.Min.Y)*dst.Stride : (y-b.Min.Y)*dst.Stride+4*b.Dx()]
		for x := b.Min.X; x < b.Max.X; x++ {
			ci := crow + (x>>sx - b.Min.X>>sx)
			r, g, bb := color.YCbCrToRGB(yrow[x-b.Min.X], src.Cb[ci], src.Cr[ci])
			o := out[4*(x-b.Min.X) : 4*(x-b.Min.X)+4 : 4*(x-b.Min.X)+4]
			o[0], o[1], o[2], o[3] = r, g, bb, 255
		}
	}
	return dst
}
