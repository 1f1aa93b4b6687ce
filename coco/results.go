package coco

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	jsoniter "github.com/json-iterator/go"
)

// Result is one keypoint detection of a COCO results file:
// {"image_id", "category_id", "keypoints": [x,y,s, ...], "score"} and an
// optional "bbox".
type Result struct {
	ImageID    int64
	CategoryID int64
	// Keypoints has length K, in image pixels. V is derived from the third
	// value of each triple: 0 when it is <= 0, 2 when it is >= 1.5, else 1.
	// pycocotools ignores it for detections.
	Keypoints []Keypoint
	// KeypointScores, when not nil, holds the third value of each triple as
	// read (often a per-joint confidence) and is what WriteResults writes;
	// when nil, WriteResults writes Keypoints[i].V.
	KeypointScores []float64
	Score          float64
	// Box is the optional "bbox" [x, y, w, h]. When set, the detection's
	// area is Box.W*Box.H (pycocotools loadRes takes its bbox branch);
	// otherwise it is the area of the keypoints' extent.
	Box *Box
}

// resultJSON is the wire form of one result; pointers tell absent from zero.
type resultJSON struct {
	ImageID    *jsoniter.Number `json:"image_id"`
	CategoryID *jsoniter.Number `json:"category_id"`
	Keypoints  []float64        `json:"keypoints"`
	Score      *float64         `json:"score"`
	BBox       []float64        `json:"bbox"`
}

// LoadResults reads a COCO keypoint results file; see ParseResults.
func LoadResults(path string, gt *Dataset) ([]Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("coco: read %s: %w", path, err)
	}
	return ParseResults(path, data, gt)
}

// ParseResults decodes a COCO keypoint results file: a JSON list of
// {"image_id", "category_id", "keypoints", "score"} objects with an
// optional "bbox". name labels errors (usually the file path).
//
// Each entry is checked against gt: the image id must be one of
// gt.Images, keypoints must hold 3*K finite numbers (K = gt.Schema.K(); when
// the schema is empty, any non-zero multiple of 3 used consistently), score
// must be present and finite, and a non-empty bbox must hold 4 finite
// numbers. An error names the entry index. An empty list gives no results
// and no error. Unknown fields are ignored.
func ParseResults(name string, data []byte, gt *Dataset) ([]Result, error) {
	images := make(map[int64]struct{}, len(gt.Images))
	for _, im := range gt.Images {
		images[im.ID] = struct{}{}
	}
	k := gt.Schema.K()

	it := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowIterator(data)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnIterator(it)
	switch next := it.WhatIsNext(); next {
	case jsoniter.ArrayValue:
	case jsoniter.InvalidValue:
		return nil, fmt.Errorf("coco: %s: results are not JSON%s", name, resNaNHint(data))
	default:
		return nil, fmt.Errorf("coco: %s: results must be a JSON list of objects, got %s", name, resKindName(next))
	}
	var out []Result
	for i := 0; it.ReadArray(); i++ {
		if next := it.WhatIsNext(); next != jsoniter.ObjectValue {
			if next == jsoniter.InvalidValue {
				return nil, fmt.Errorf("coco: %s: result %d: invalid JSON%s", name, i, resNaNHint(data))
			}
			return nil, fmt.Errorf("coco: %s: result %d: want an object, got %s", name, i, resKindName(next))
		}
		var raw resultJSON
		it.ReadVal(&raw)
		if it.Error != nil {
			return nil, fmt.Errorf("coco: %s: result %d: %v%s", name, i, it.Error, resNaNHint(data))
		}
		r, err := raw.result(images, &k)
		if err != nil {
			return nil, fmt.Errorf("coco: %s: result %d: %w", name, i, err)
		}
		out = append(out, r)
	}
	if it.Error != nil && it.Error != io.EOF {
		return nil, fmt.Errorf("coco: %s: after result %d: %v%s", name, len(out), it.Error, resNaNHint(data))
	}
	if it.WhatIsNext() != jsoniter.InvalidValue {
		return nil, fmt.Errorf("coco: %s: trailing data after the results list", name)
	}
	return out, nil
}

func (raw *resultJSON) result(images map[int64]struct{}, k *int) (Result, error) {
	var r Result
	if raw.ImageID == nil {
		return r, fmt.Errorf("missing image_id")
	}
	id, err := resParseID(*raw.ImageID)
	if err != nil {
		return r, fmt.Errorf("image_id: %w", err)
	}
	if _, ok := images[id]; !ok {
		return r, fmt.Errorf("image_id %d is not an image of the ground truth", id)
	}
	r.ImageID = id
	if raw.CategoryID == nil {
		return r, fmt.Errorf("missing category_id")
	}
	if r.CategoryID, err = resParseID(*raw.CategoryID); err != nil {
		return r, fmt.Errorf("category_id: %w", err)
	}
	if raw.Score == nil {
		return r, fmt.Errorf("missing score")
	}
	if !resFinite(*raw.Score) {
		return r, fmt.Errorf("score is %v", *raw.Score)
	}
	r.Score = *raw.Score
	n := len(raw.Keypoints)
	switch {
	case raw.Keypoints == nil:
		return r, fmt.Errorf("missing keypoints")
	case *k > 0 && n != 3**k:
		return r, fmt.Errorf("keypoints has %d numbers, want %d (3 per joint, K=%d)", n, 3**k, *k)
	case n == 0 || n%3 != 0:
		return r, fmt.Errorf("keypoints has %d numbers, want a non-zero multiple of 3", n)
	}
	if *k == 0 {
		*k = n / 3
	}
	r.Keypoints = make([]Keypoint, n/3)
	r.KeypointScores = make([]float64, n/3)
	for j := range r.Keypoints {
		x, y, s := raw.Keypoints[3*j], raw.Keypoints[3*j+1], raw.Keypoints[3*j+2]
		if !resFinite(x) || !resFinite(y) || !resFinite(s) {
			return r, fmt.Errorf("keypoint %d is (%v, %v, %v): not finite", j, x, y, s)
		}
		v := 1
		switch {
		case s <= 0:
			v = 0
		case s >= 1.5:
			v = 2
		}
		r.Keypoints[j] = Keypoint{X: x, Y: y, V: v}
		r.KeypointScores[j] = s
	}
	if len(raw.BBox) > 0 {
		if len(raw.BBox) != 4 {
			return r, fmt.Errorf("bbox has %d numbers, want 4", len(raw.BBox))
		}
		for _, v := range raw.BBox {
			if !resFinite(v) {
				return r, fmt.Errorf("bbox %v is not finite", raw.BBox)
			}
		}
		r.Box = &Box{X: raw.BBox[0], Y: raw.BBox[1], W: raw.BBox[2], H: raw.BBox[3]}
	}
	return r, nil
}

// resParseID accepts an integer, or a float with an integral value (397133.0).
func resParseID(n jsoniter.Number) (int64, error) {
	s := string(n)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		return id, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%q is not an integer id", s)
	}
	return int64(f), nil
}

func resFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// resNaNHint explains the most common invalid JSON in results files: Python's
// json module writes NaN and Infinity, which JSON does not allow.
func resNaNHint(data []byte) string {
	if bytes.Contains(data, []byte("NaN")) || bytes.Contains(data, []byte("Infinity")) {
		return " (NaN and Infinity are not valid JSON numbers)"
	}
	return ""
}

func resKindName(t jsoniter.ValueType) string {
	switch t {
	case jsoniter.StringValue:
		return "a string"
	case jsoniter.NumberValue:
		return "a number"
	case jsoniter.NilValue:
		return "null"
	case jsoniter.BoolValue:
		return "a boolean"
	case jsoniter.ArrayValue:
		return "a list"
	case jsoniter.ObjectValue:
		return "an object"
	}
	return "invalid JSON"
}

// WriteResults writes rs as a COCO keypoint results file: a JSON list with
// one object per line. Keypoints are flat x,y,s triples, s taken from
// KeypointScores when set, else from V; "bbox" is written when Box is set.
// Numbers use the shortest representation that reads back exactly.
// It returns an error naming the entry for a non-finite number.
func WriteResults(w io.Writer, rs []Result) error {
	bw := bufio.NewWriter(w)
	var b []byte
	bw.WriteByte('[')
	for i, r := range rs {
		if r.KeypointScores != nil && len(r.KeypointScores) != len(r.Keypoints) {
			return fmt.Errorf("coco: write results: result %d: %d keypoint scores for %d keypoints", i, len(r.KeypointScores), len(r.Keypoints))
		}
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n{\"image_id\":"...)
		b = strconv.AppendInt(b, r.ImageID, 10)
		b = append(b, ",\"category_id\":"...)
		b = strconv.AppendInt(b, r.CategoryID, 10)
		b = append(b, ",\"keypoints\":["...)
		bad := false
		num := func(v float64) {
			if !resFinite(v) {
				bad = true
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		for j, p := range r.Keypoints {
			if j > 0 {
				b = append(b, ',')
			}
			num(p.X)
			b = append(b, ',')
			num(p.Y)
			b = append(b, ',')
			if r.KeypointScores != nil {
				num(r.KeypointScores[j])
			} else {
				b = strconv.AppendInt(b, int64(p.V), 10)
			}
		}
		b = append(b, "],\"score\":"...)
		num(r.Score)
		if r.Box != nil {
			b = append(b, ",\"bbox\":["...)
			num(r.Box.X)
			b = append(b, ',')
			num(r.Box.Y)
			b = append(b, ',')
			num(r.Box.W)
			b = append(b, ',')
			num(r.Box.H)
			b = append(b, ']')
		}
		b = append(b, '}')
		if bad {
			return fmt.Errorf("coco: write results: result %d: non-finite number", i)
		}
		bw.Write(b)
	}
	bw.WriteString("\n]\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("coco: write results: %w", err)
	}
	return nil
}
