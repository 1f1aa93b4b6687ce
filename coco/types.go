package coco

import "fmt"

// Keypoint is one labeled point of an annotation, in image pixels.
// V follows COCO: 0 not labeled, 1 labeled but occluded, 2 labeled and
// visible. "Labeled" always means V > 0.
type Keypoint struct {
	X, Y float64
	V    int
}

// Labeled reports whether the point carries a usable location (V > 0).
func (k Keypoint) Labeled() bool { return k.V > 0 }

// Box is an axis-aligned box in image pixels: top-left corner and size.
type Box struct {
	X, Y, W, H float64
}

// Image is one record of the "images" array.
type Image struct {
	ID       int64
	FileName string // relative to the images directory; may contain sub-folders
	Width    int    // 0 when the file does not say
	Height   int
}

// Annotation is one person instance of the "annotations" array, repaired:
// NumKeypoints is recounted from V > 0, Area is filled from the box when
// absent, Crowd accepts 0/1 and booleans.
type Annotation struct {
	ID           int64
	ImageID      int64
	CategoryID   int64
	Keypoints    []Keypoint // len == Schema.K()
	NumKeypoints int        // recounted: number of keypoints with V > 0
	Box          Box
	HasBox       bool
	Area         float64
	Crowd        bool
}

// Schema describes the keypoints of one category: the single table of
// names, skeleton, flip pairs and OKS sigmas.
type Schema struct {
	Names     []string
	Skeleton  [][2]int  // 0-based joint index pairs, validated against K
	FlipPairs [][2]int  // 0-based mirrored pairs (i < j, sorted by i) derived from left_*/right_* names
	Sigmas    []float64 // OKS sigmas, len K
}

// K returns the number of joints.
func (s Schema) K() int { return len(s.Names) }

// Dataset is a loaded COCO keypoints file restricted to one category
// (the person category, or the first category with keypoints).
type Dataset struct {
	Path        string
	CategoryID  int64
	Schema      Schema
	Images      []Image
	Annotations []Annotation
	Quirks      []string // human-readable notes of repaired quirks, one per kind, with counts

	imageIndex map[int64]int // image id -> index in Images
	annStart   []int32       // len(Images)+1; annotations of image i are annOrder[annStart[i]:annStart[i+1]]
	annOrder   []int32       // indices into Annotations grouped by image, file order within an image
}

// Image returns the image with the given id.
func (d *Dataset) Image(id int64) (Image, bool) {
	i, ok := d.imageIndex[id]
	if !ok {
		return Image{}, false
	}
	return d.Images[i], true
}

// Reindex rebuilds the image and per-image annotation indexes used by
// Image and AnnotationsOf. Load and Parse call it; call it again after
// building or editing a Dataset by hand. It fails on a duplicate image id
// or an annotation whose image id is not in Images.
func (d *Dataset) Reindex() error {
	idx := make(map[int64]int, len(d.Images))
	for i, im := range d.Images {
		if _, dup := idx[im.ID]; dup {
			return &Error{File: d.Path, Where: fmt.Sprintf("image %d", im.ID), Field: "id", Msg: "duplicate image id", Err: ErrDuplicateImage}
		}
		idx[im.ID] = i
	}
	return d.reindex(idx)
}

// reindex builds the per-image annotation index from an image index.
func (d *Dataset) reindex(idx map[int64]int) error {
	start := make([]int32, len(d.Images)+1)
	imgOf := make([]int32, len(d.Annotations))
	for i, a := range d.Annotations {
		j, ok := idx[a.ImageID]
		if !ok {
			return &Error{File: d.Path, Where: fmt.Sprintf("annotation %d", a.ID), Field: "image_id", Msg: fmt.Sprintf("unknown image %d", a.ImageID), Err: ErrUnknownImage}
		}
		imgOf[i] = int32(j)
		start[j+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	order := make([]int32, len(d.Annotations))
	next := append([]int32(nil), start[:len(d.Images)]...)
	for i, j := range imgOf {
		order[next[j]] = int32(i)
		next[j]++
	}
	d.imageIndex, d.annStart, d.annOrder = idx, start, order
	return nil
}

// AnnotationsOf returns the annotations of one image in file order
// (shallow copies sharing Keypoints with d.Annotations), or nil when the
// image has none or is unknown.
func (d *Dataset) AnnotationsOf(imageID int64) []Annotation {
	i, ok := d.imageIndex[imageID]
	if !ok || i+1 >= len(d.annStart) {
		return nil
	}
	lo, hi := d.annStart[i], d.annStart[i+1]
	if lo == hi {
		return nil
	}
	out := make([]Annotation, 0, hi-lo)
	for _, j := range d.annOrder[lo:hi] {
		out = append(out, d.Annotations[j])
	}
	return out
}

// Persons returns the annotations top-down training uses: not crowd and
// with at least one labeled joint (NumKeypoints > 0), in file order.
func (d *Dataset) Persons() []Annotation {
	var out []Annotation
	for _, a := range d.Annotations {
		if !a.Crowd && a.NumKeypoints > 0 {
			out = append(out, a)
		}
	}
	return out
}
