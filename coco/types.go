package coco

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
	FlipPairs [][2]int  // 0-based (left, right) pairs derived from left_*/right_* names
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
}

// Image returns the image with the given id.
func (d *Dataset) Image(id int64) (Image, bool) {
	i, ok := d.imageIndex[id]
	if !ok {
		return Image{}, false
	}
	return d.Images[i], true
}
