package data

import (
	"image"

	"github.com/bsampose/bsampose/pose/geom"
	"github.com/disintegration/imaging"
)

// ImageNet mean and standard deviation of RGB on a 0..1 scale (copies of
// geom's).
var (
	ImageNetMean = geom.ImageNetMean
	ImageNetStd  = geom.ImageNetStd
)

// Warp fills dst (3*H*W float32, CHW (c,y,x), RGB) with img seen through
// m, the map from image pixels to the W x H output: output pixel (x, y)
// samples img bilinearly at m.Invert()(x, y) (OpenCV warpAffine with
// INTER_LINEAR), normalised as (v/255 - mean[c]) / std[c]. Source pixels
// outside img count as the mean colour (0 after normalisation), so the
// border fades to 0 (OpenCV BORDER_CONSTANT in normalised space). The
// alpha channel is ignored.
//
// *image.NRGBA, *image.RGBA and *image.YCbCr are warped directly by
// geom.Warp (see there for the YCbCr interpolation); other image types
// are converted with imaging.Clone first (one allocation).
//
// It panics if len(dst) != 3*W*H or m is singular.
func Warp(dst []float32, img image.Image, m Affine, W, H int, mean, std [3]float32) {
	switch img.(type) {
	case *image.YCbCr, *image.NRGBA, *image.RGBA:
	default:
		img = imaging.Clone(img)
	}
	geom.Warp(dst, img, m, W, H, mean, std)
}

// chromaShifts returns the horizontal and vertical chroma subsampling of a
// YCbCr image as bit shifts (4:2:0 is 1, 1).
func chromaShifts(r image.YCbCrSubsampleRatio) (sx, sy uint) { return geom.ChromaShifts(r) }
