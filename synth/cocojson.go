package synth

import (
	"encoding/json"
	"fmt"
	"os"
)

// The COCO keypoints file, as written. Explicit structs keep the output
// stable and byte-identical for a seed.
type cocoFile struct {
	Info        cocoInfo         `json:"info"`
	Images      []cocoImage      `json:"images"`
	Annotations []cocoAnnotation `json:"annotations"`
	Categories  []cocoCategory   `json:"categories"`
}

type cocoInfo struct {
	Description string `json:"description"`
	Version     string `json:"version"`
	Seed        int64  `json:"seed"`
}

type cocoImage struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

type cocoAnnotation struct {
	ID           int64      `json:"id"`
	ImageID      int64      `json:"image_id"`
	CategoryID   int64      `json:"category_id"`
	Keypoints    []float64  `json:"keypoints"`
	NumKeypoints int        `json:"num_keypoints"`
	BBox         [4]float64 `json:"bbox"`
	Area         float64    `json:"area"`
	IsCrowd      int        `json:"iscrowd"`
}

type cocoCategory struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Supercategory string   `json:"supercategory"`
	Keypoints     []string `json:"keypoints"`
	Skeleton      [][2]int `json:"skeleton"`
}

func personCategory() cocoCategory {
	return cocoCategory{ID: 1, Name: "person", Supercategory: "person", Keypoints: keypointNames[:], Skeleton: skeleton}
}

// Stats summarises a generated annotation file.
type Stats struct {
	Images     int    `json:"images"`
	Persons    int    `json:"persons"`
	Empty      int    `json:"empty"`      // persons without a labeled keypoint (always 0 here)
	Labeled    int    `json:"labeled"`    // keypoints with v > 0
	Visibility [3]int `json:"visibility"` // keypoints with v = 0, 1, 2
}

func (s *Stats) add(f *cocoFile) {
	s.Images += len(f.Images)
	s.Persons += len(f.Annotations)
	for _, a := range f.Annotations {
		labeled := 0
		for i := 2; i < len(a.Keypoints); i += 3 {
			v := int(a.Keypoints[i])
			if v >= 0 && v <= 2 {
				s.Visibility[v]++
			}
			if v > 0 {
				labeled++
			}
		}
		s.Labeled += labeled
		if labeled == 0 {
			s.Empty++
		}
	}
}

func readCOCO(path string) (*cocoFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	var f cocoFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("synth: parse %s: %w", path, err)
	}
	return &f, nil
}

// Summarize reads a COCO keypoints file and counts its images, persons and
// keypoints by visibility.
func Summarize(path string) (Stats, error) {
	f, err := readCOCO(path)
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	s.add(f)
	return s, nil
}
