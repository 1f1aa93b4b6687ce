package geom

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// ImageNet mean and standard deviation of RGB on a 0..1 scale.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Warp fills dst (3*H*W float32, CHW (c,y,x), RGB) with img seen through
// m, the map from image pixels to the W x H output: output pixel (x, y)
// samples img bilinearly at m.Invert()(x, y) (OpenCV warpAffine with
// INTER_LINEAR), normalised as (v/255 - mean[c]) / std[c]. Source pixels
// outside img count as the mean colour (0 after normalisation), so the
// border fades to 0 (OpenCV BORDER_CONSTANT in normalised space). The
// alpha channel is ignored.
//
// *image.NRGBA and *image.RGBA are read directly from Pix. *image.YCbCr
// (a decoded JPEG) is read directly too: Y, Cb and Cr are interpolated
// and converted with the JFIF formulas, which matches warping its RGB
// conversion to within half a level except at a few saturated chroma
// edges (where RGB would have been clamped before interpolation). Other
// image types are converted to NRGBA first (one allocation, through
// color.NRGBAModel).
//
// It panics if len(dst) != 3*W*H or m is singular.
func Warp(dst []float32, img image.Image, m Affine, W, H int, mean, std [3]float32) {
	if len(dst) != 3*W*H {
		panic(fmt.Sprintf("geom: Warp: len(dst)=%d, want 3*W*H=%d", len(dst), 3*W*H))
	}
	var pix []uint8
	var stride int
	var rect image.Rectangle
	inv := m.Invert()
	var scale, off [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * std[c])
		off[c] = mean[c] / std[c]
	}
	plane := W * H
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	switch im := img.(type) {
	case *image.YCbCr:
		warpYCbCr(r, g, b, im, inv, W, H, scale, off)
		return
	case *image.NRGBA:
		pix, stride, rect = im.Pix, im.Stride, im.Rect
	case *image.RGBA:
		pix, stride, rect = im.Pix, im.Stride, im.Rect
	default:
		c := toNRGBA(img)
		pix, stride, rect = c.Pix, c.Stride, c.Rect
	}
	iw, ih := rect.Dx(), rect.Dy()
	// Fast path bounds: x0 in [0, iw-2], y0 in [0, ih-2].
	maxX, maxY := float64(iw-1), float64(ih-1)
	for y := range H {
		// Source position of output pixel (0, y) and its step along x.
		sx := inv[1]*float64(y) + inv[2]
		sy := inv[4]*float64(y) + inv[5]
		dx, dy := inv[0], inv[3]
		row := y * W
		for x := range W {
			fx := sx + dx*float64(x)
			fy := sy + dy*float64(x)
			i := row + x
			if fx >= 0 && fy >= 0 && fx < maxX && fy < maxY {
				x0, y0 := int(fx), int(fy)
				ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
				w00 := (1 - ax) * (1 - ay)
				w01 := ax * (1 - ay)
				w10 := (1 - ax) * ay
				w11 := ax * ay
				p := y0*stride + 4*x0
				q := p + stride
				s := pix[p : p+8 : p+8]
				t := pix[q : q+8 : q+8]
				vr := w00*float32(s[0]) + w01*float32(s[4]) + w10*float32(t[0]) + w11*float32(t[4])
				vg := w00*float32(s[1]) + w01*float32(s[5]) + w10*float32(t[1]) + w11*float32(t[5])
				vb := w00*float32(s[2]) + w01*float32(s[6]) + w10*float32(t[2]) + w11*float32(t[6])
				r[i] = vr*scale[0] - off[0]
				g[i] = vg*scale[1] - off[1]
				b[i] = vb*scale[2] - off[2]
				continue
			}
			if !(fx > -1 && fy > -1 && fx < float64(iw) && fy < float64(ih)) {
				r[i], g[i], b[i] = 0, 0, 0
				continue
			}
			// Border: some of the four neighbours are outside.
			x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
			ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
			var vr, vg, vb, wsum float32
			for _, n := range [4]struct {
				dx, dy int
				w      float32
			}{{0, 0, (1 - ax) * (1 - ay)}, {1, 0, ax * (1 - ay)}, {0, 1, (1 - ax) * ay}, {1, 1, ax * ay}} {
				xx, yy := x0+n.dx, y0+n.dy
				if xx < 0 || yy < 0 || xx >= iw || yy >= ih || n.w == 0 {
					continue
				}
				p := yy*stride + 4*xx
				vr += n.w * float32(pix[p])
				vg += n.w * float32(pix[p+1])
				vb += n.w * float32(pix[p+2])
				wsum += n.w
			}
			r[i] = vr*scale[0] - off[0]*wsum
			g[i] = vg*scale[1] - off[1]*wsum
			b[i] = vb*scale[2] - off[2]*wsum
		}
	}
}

// yccRGB converts one JFIF YCbCr sample to RGB on 0..255 (the formulas of
// image/color.YCbCrToRGB, without its rounding to bytes).
func yccRGB(y, cb, cr uint8) (r, g, b float32) {
	fy, fcb, fcr := float32(y), float32(cb)-128, float32(cr)-128
	r = min(max(fy+1.402*fcr, 0), 255)
	g = min(max(fy-0.344136*fcb-0.714136*fcr, 0), 255)
	b = min(max(fy+1.772*fcb, 0), 255)
	return r, g, b
}

// warpYCbCr is Warp for a decoded JPEG, converting only the source
// samples it reads.
func warpYCbCr(r, g, b []float32, im *image.YCbCr, inv Affine, W, H int, scale, off [3]float32) {
	usx, usy := ChromaShifts(im.SubsampleRatio)
	sx, sy := int(usx), int(usy)
	org := im.Rect.Min
	iw, ih := im.Rect.Dx(), im.Rect.Dy()
	cx0, cy0 := org.X>>sx, org.Y>>sy
	// sample returns the RGB of pixel (x, y) relative to Rect.Min.
	sample := func(x, y int) (float32, float32, float32) {
		ax, ay := x+org.X, y+org.Y
		ci := (ay>>sy-cy0)*im.CStride + (ax>>sx - cx0)
		return yccRGB(im.Y[y*im.YStride+x], im.Cb[ci], im.Cr[ci])
	}
	maxX, maxY := float64(iw-1), float64(ih-1)
	for y := range H {
		sx0 := inv[1]*float64(y) + inv[2]
		sy0 := inv[4]*float64(y) + inv[5]
		row := y * W
		for x := range W {
			fx := sx0 + inv[0]*float64(x)
			fy := sy0 + inv[3]*float64(x)
			i := row + x
			if !(fx > -1 && fy > -1 && fx < float64(iw) && fy < float64(ih)) {
				r[i], g[i], b[i] = 0, 0, 0
				continue
			}
			if fx >= 0 && fy >= 0 && fx < maxX && fy < maxY {
				// Interior: interpolate Y, Cb and Cr, then convert once.
				// Conversion is affine, so this equals interpolating RGB
				// except where a neighbour's RGB is clamped (saturated
				// colours at chroma edges).
				x0, y0 := int(fx), int(fy)
				ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
				w00, w01 := (1-ax)*(1-ay), ax*(1-ay)
				w10, w11 := (1-ax)*ay, ax*ay
				yi := y0*im.YStride + x0
				yr0 := im.Y[yi : yi+2 : yi+2]
				yr1 := im.Y[yi+im.YStride : yi+im.YStride+2 : yi+im.YStride+2]
				ax0, ax1 := (x0+org.X)>>sx-cx0, (x0+1+org.X)>>sx-cx0
				c0 := ((y0+org.Y)>>sy - cy0) * im.CStride
				c1 := ((y0+1+org.Y)>>sy - cy0) * im.CStride
				i00, i01, i10, i11 := c0+ax0, c0+ax1, c1+ax0, c1+ax1
				vy := w00*float32(yr0[0]) + w01*float32(yr0[1]) + w10*float32(yr1[0]) + w11*float32(yr1[1])
				vcb := w00*float32(im.Cb[i00]) + w01*float32(im.Cb[i01]) + w10*float32(im.Cb[i10]) + w11*float32(im.Cb[i11]) - 128
				vcr := w00*float32(im.Cr[i00]) + w01*float32(im.Cr[i01]) + w10*float32(im.Cr[i10]) + w11*float32(im.Cr[i11]) - 128
				r[i] = min(max(vy+1.402*vcr, 0), 255)*scale[0] - off[0]
				g[i] = min(max(vy-0.344136*vcb-0.714136*vcr, 0), 255)*scale[1] - off[1]
				b[i] = min(max(vy+1.772*vcb, 0), 255)*scale[2] - off[2]
				continue
			}
			x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
			ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
			var vr, vg, vb, wsum float32
			for k := range 4 {
				dx, dy := k&1, k>>1
				w := (1 - ax) * (1 - ay)
				switch k {
				case 1:
					w = ax * (1 - ay)
				case 2:
					w = (1 - ax) * ay
				case 3:
					w = ax * ay
				}
				xx, yy := x0+dx, y0+dy
				if xx < 0 || yy < 0 || xx >= iw || yy >= ih || w == 0 {
					continue
				}
				cr, cg, cb := sample(xx, yy)
				vr += w * cr
				vg += w * cg
				vb += w * cb
				wsum += w
			}
			r[i] = vr*scale[0] - off[0]*wsum
			g[i] = vg*scale[1] - off[1]*wsum
			b[i] = vb*scale[2] - off[2]*wsum
		}
	}
}

// toNRGBA converts img to NRGBA with origin (0, 0).
func toNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			i := (y-b.Min.Y)*dst.Stride + 4*(x-b.Min.X)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
	return dst
}

// ChromaShifts returns the horizontal and vertical chroma subsampling of a
// YCbCr image as bit shifts (4:2:0 is 1, 1).
func ChromaShifts(r image.YCbCrSubsampleRatio) (sx, sy uint) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}
