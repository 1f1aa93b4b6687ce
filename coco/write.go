package coco

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Write writes d as standard COCO keypoints JSON: "images", "annotations"
// (id, image_id, category_id, iscrowd, num_keypoints, area, bbox,
// keypoints as 3*K numbers) and one category with the keypoint names, the
// 1-based skeleton and, as an extra field other tools ignore, the OKS
// "sigmas". num_keypoints is recounted from V > 0. A box with HasBox false
// is written as a bbox too (pycocotools needs one), so it reads back with
// HasBox true. One record per line. It fails if the schema is
// inconsistent, an annotation has len(Keypoints) != K, or a number is NaN
// or Inf.
func Write(w io.Writer, d *Dataset) error {
	if err := d.Schema.Validate(); err != nil {
		return fmt.Errorf("coco: write: %w", err)
	}
	k := d.Schema.K()
	cat := d.CategoryID
	if cat == 0 {
		cat = 1
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var b []byte
	b = append(b, "{\"info\": {\"description\": \"written by github.com/bsampose/bsampose/coco\"},\n\"images\": ["...)
	for i, im := range d.Images {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n{\"id\": "...)
		b = strconv.AppendInt(b, im.ID, 10)
		b = append(b, ", \"file_name\": "...)
		b = appendString(b, im.FileName)
		b = append(b, ", \"width\": "...)
		b = strconv.AppendInt(b, int64(im.Width), 10)
		b = append(b, ", \"height\": "...)
		b = strconv.AppendInt(b, int64(im.Height), 10)
		b = append(b, '}')
		if len(b) > 1<<15 {
			if _, err := bw.Write(b); err != nil {
				return fmt.Errorf("coco: write: %w", err)
			}
			b = b[:0]
		}
	}
	b = append(b, "],\n\"annotations\": ["...)
	for i, a := range d.Annotations {
		if len(a.Keypoints) != k {
			return &Error{File: d.Path, Where: fmt.Sprintf("annotation %d", a.ID), Field: "keypoints", Msg: fmt.Sprintf("length %d, want %d (K)", len(a.Keypoints), k), Err: ErrKeypointsLength}
		}
		if !finite(a.Area, a.Box.X, a.Box.Y, a.Box.W, a.Box.H) {
			return &Error{File: d.Path, Where: fmt.Sprintf("annotation %d", a.ID), Field: "bbox", Msg: "NaN or Inf in bbox or area", Err: ErrNonFinite}
		}
		if i > 0 {
			b = append(b, ',')
		}
		n := 0
		for _, kp := range a.Keypoints {
			if kp.V > 0 {
				n++
			}
		}
		b = append(b, "\n{\"id\": "...)
		b = strconv.AppendInt(b, a.ID, 10)
		b = append(b, ", \"image_id\": "...)
		b = strconv.AppendInt(b, a.ImageID, 10)
		b = append(b, ", \"category_id\": "...)
		b = strconv.AppendInt(b, cat, 10)
		if a.Crowd {
			b = append(b, ", \"iscrowd\": 1"...)
		} else {
			b = append(b, ", \"iscrowd\": 0"...)
		}
		b = append(b, ", \"num_keypoints\": "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ", \"area\": "...)
		b = appendFloat(b, a.Area)
		b = append(b, ", \"bbox\": ["...)
		for j, v := range [4]float64{a.Box.X, a.Box.Y, a.Box.W, a.Box.H} {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = appendFloat(b, v)
		}
		b = append(b, "], \"keypoints\": ["...)
		for j, kp := range a.Keypoints {
			if !finite(kp.X, kp.Y) {
				return &Error{File: d.Path, Where: fmt.Sprintf("annotation %d", a.ID), Field: "keypoints", Msg: fmt.Sprintf("NaN or Inf at joint %d", j), Err: ErrNonFinite}
			}
			if j > 0 {
				b = append(b, ", "...)
			}
			b = appendFloat(b, kp.X)
			b = append(b, ", "...)
			b = appendFloat(b, kp.Y)
			b = append(b, ", "...)
			b = strconv.AppendInt(b, int64(kp.V), 10)
		}
		b = append(b, "]}"...)
		if len(b) > 1<<15 {
			if _, err := bw.Write(b); err != nil {
				return fmt.Errorf("coco: write: %w", err)
			}
			b = b[:0]
		}
	}
	b = append(b, "],\n\"categories\": [\n{\"id\": "...)
	b = strconv.AppendInt(b, cat, 10)
	b = append(b, ", \"name\": \"person\", \"supercategory\": \"person\", \"keypoints\": ["...)
	for i, n := range d.Schema.Names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendString(b, n)
	}
	b = append(b, "], \"skeleton\": ["...)
	for i, e := range d.Schema.Skeleton {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "[%d, %d]", e[0]+1, e[1]+1)
	}
	b = append(b, "], \"sigmas\": ["...)
	for i, s := range d.Schema.Sigmas {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendFloat(b, s)
	}
	b = append(b, "]}\n]}\n"...)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("coco: write: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("coco: write: %w", err)
	}
	return nil
}

// WriteFile writes d to path atomically: into a temporary file in the same
// directory, then renamed over path.
func WriteFile(path string, d *Dataset) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("coco: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = Write(f, d); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("coco: write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("coco: write %s: %w", path, err)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// appendFloat writes the shortest representation that parses back to v.
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
