package compare

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// Subset is a fraction Keep/Of of the split's train part (coco.Subset),
// for a regime with fewer training persons; the zero value keeps all. As a
// flag it reads "K/N".
type Subset struct{ Keep, Of int }

func (s Subset) String() string {
	if s.Of == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Keep, s.Of)
}

// Set parses "K/N" with 0 < K < N ("" keeps all).
func (s *Subset) Set(v string) error {
	if v == "" {
		*s = Subset{}
		return nil
	}
	k, n, ok := strings.Cut(v, "/")
	keep, err1 := strconv.Atoi(k)
	of, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || keep < 1 || keep >= of {
		return fmt.Errorf("compare: train subset %q: want K/N with 0 < K < N", v)
	}
	*s = Subset{keep, of}
	return nil
}

// WriteSplit splits the annotations file ann with coco.Split(d, n) and
// writes dir/train.json, dir/dev.json and dir/probe.json. With a non-zero
// sub, train.json is coco.Subset of the train part and probe.json that
// subset's probe.
func WriteSplit(ann string, n int, sub Subset, dir string) (SplitCounts, error) {
	c := SplitCounts{Images: map[string]int{}, Annotations: map[string]int{}}
	d, err := coco.Load(ann)
	if err != nil {
		return c, err
	}
	tr, dev, pr, err := coco.Split(d, n)
	if err != nil {
		return c, err
	}
	if sub.Of > 0 {
		if tr, pr, err = coco.Subset(tr, sub.Keep, sub.Of); err != nil {
			return c, err
		}
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
