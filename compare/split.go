package compare

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bsampose/bsampose/coco"
)

// SplitCounts are the sizes of the parts WriteSplit wrote.
type SplitCounts struct {
	Images      map[string]int `json:"images"`      // by part: train, dev, probe
	Annotations map[string]int `json:"annotations"` // by part
}

// SplitFiles returns the paths of the three parts in dir.
func SplitFiles(dir string) (train, dev, probe string) {
	return filepath.Join(dir, "train.json"), filepath.Join(dir, "dev.json"), filepath.Join(dir, "probe.json")
}

// WriteSplit splits the annotations file ann with coco.Split(d, n) and
// writes dir/train.json, dir/dev.json and dir/probe.json.
func WriteSplit(ann string, n int, dir string) (SplitCounts, error) {
	c := SplitCounts{Images: map[string]int{}, Annotations: map[string]int{}}
	d, err := coco.Load(ann)
	if err != nil {
		return c, err
	}
	tr, dev, pr, err := coco.Split(d, n)
	if err != nil {
		return c, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, fmt.Errorf("compare: split: %w", err)
	}
	ft, fd, fp := SplitFiles(dir)
	for _, p := range []struct {
		name, path string
		d          *coco.Dataset
	}{{"train", ft, tr}, {"dev", fd, dev}, {"probe", fp, pr}} {
		if err := coco.WriteFile(p.path, p.d); err != nil {
			return c, err
		}
		c.Images[p.name], c.Annotations[p.name] = len(p.d.Images), len(p.d.Annotations)
	}
	return c, nil
}
