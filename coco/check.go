package coco

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register JPEG for image.DecodeConfig
	_ "image/png"  // register PNG for image.DecodeConfig
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// maxExamples is how many problem files a Report lists per kind.
const maxExamples = 10

// JointCount is the number of annotations labeling one joint.
type JointCount struct {
	Name    string `json:"name"`
	Labeled int    `json:"labeled"` // V > 0
	Visible int    `json:"visible"` // V == 2
}

// Report summarises a dataset and the state of its image files.
type Report struct {
	File      string `json:"file"`
	ImagesDir string `json:"images_dir,omitempty"` // "" when images were not checked
	LoadError string `json:"load_error,omitempty"` // set by callers when Load failed

	K                        int          `json:"k"`
	Images                   int          `json:"images"`
	Annotations              int          `json:"annotations"`
	Persons                  int          `json:"persons"`         // non-crowd annotations
	LabeledPersons           int          `json:"persons_labeled"` // non-crowd with >= 1 labeled joint (Dataset.Persons)
	Crowd                    int          `json:"crowd"`
	Empty                    int          `json:"empty"` // non-crowd with no labeled joint
	ImagesWithoutAnnotations int          `json:"images_without_annotations"`
	Joints                   []JointCount `json:"joints"`
	Quirks                   []string     `json:"quirks"`

	ImagesChecked      int      `json:"images_checked"`
	Missing            int      `json:"missing_images"`
	MissingExamples    []string `json:"missing_examples,omitempty"` // first ten, paths under ImagesDir
	Unreadable         int      `json:"unreadable_images"`
	UnreadableExamples []string `json:"unreadable_examples,omitempty"` // first ten, "path: reason"
	SizeMismatch       int      `json:"size_mismatch"`                 // header size differs from the image record (warning)
	SizeExamples       []string `json:"size_mismatch_examples,omitempty"`
}

// Check summarises d and, when imagesDir is not "", checks every image
// file: it must exist under imagesDir (Image.FileName may contain
// sub-folders) and have a decodable JPEG or PNG header. Headers are read in
// parallel; pixels are not decoded. All problems are counted and the first
// ten of each kind listed, sorted by file name.
func Check(d *Dataset, imagesDir string) Report {
	r := Report{
		File:      d.Path,
		ImagesDir: imagesDir,
		K:         d.Schema.K(),
		Images:    len(d.Images),
		Quirks:    append([]string{}, d.Quirks...),
	}
	r.Joints = make([]JointCount, d.Schema.K())
	for i, n := range d.Schema.Names {
		r.Joints[i].Name = n
	}
	withAnn := make(map[int64]bool, len(d.Images))
	for _, a := range d.Annotations {
		r.Annotations++
		withAnn[a.ImageID] = true
		if a.Crowd {
			r.Crowd++
			continue
		}
		r.Persons++
		n := 0
		for j, k := range a.Keypoints {
			if j >= len(r.Joints) {
				break
			}
			if k.V > 0 {
				n++
				r.Joints[j].Labeled++
			}
			if k.V == 2 {
				r.Joints[j].Visible++
			}
		}
		if n > 0 {
			r.LabeledPersons++
		} else {
			r.Empty++
		}
	}
	for _, im := range d.Images {
		if !withAnn[im.ID] {
			r.ImagesWithoutAnnotations++
		}
	}
	if imagesDir != "" {
		r.checkImages(d.Images, imagesDir)
	}
	return r
}

type imageProblem struct {
	name string
	kind int // 1 missing, 2 unreadable, 3 size mismatch
	msg  string
}

func (r *Report) checkImages(images []Image, dir string) {
	jobs := make(chan Image)
	res := make(chan imageProblem)
	workers := min(max(2*runtime.GOMAXPROCS(0), 4), 16)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for im := range jobs {
				if p, bad := checkImage(dir, im); bad {
					res <- p
				}
			}
		}()
	}
	go func() {
		for _, im := range images {
			jobs <- im
		}
		close(jobs)
		wg.Wait()
		close(res)
	}()
	var probs []imageProblem
	for p := range res {
		probs = append(probs, p)
	}
	r.ImagesChecked = len(images)
	sort.Slice(probs, func(i, j int) bool { return probs[i].name < probs[j].name })
	for _, p := range probs {
		switch p.kind {
		case 1:
			r.Missing++
			if len(r.MissingExamples) < maxExamples {
				r.MissingExamples = append(r.MissingExamples, p.name)
			}
		case 2:
			r.Unreadable++
			if len(r.UnreadableExamples) < maxExamples {
				r.UnreadableExamples = append(r.UnreadableExamples, p.name+": "+p.msg)
			}
		case 3:
			r.SizeMismatch++
			if len(r.SizeExamples) < maxExamples {
				r.SizeExamples = append(r.SizeExamples, p.name+": "+p.msg)
			}
		}
	}
}

// checkImage opens one image and decodes its header.
func checkImage(dir string, im Image) (imageProblem, bool) {
	path := filepath.Join(dir, filepath.FromSlash(im.FileName))
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return imageProblem{name: im.FileName, kind: 1}, true
		}
		return imageProblem{name: im.FileName, kind: 2, msg: err.Error()}, true
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return imageProblem{name: im.FileName, kind: 2, msg: "decode header: " + err.Error()}, true
	}
	if (im.Width > 0 && cfg.Width != im.Width) || (im.Height > 0 && cfg.Height != im.Height) {
		return imageProblem{name: im.FileName, kind: 3, msg: fmt.Sprintf("%s is %dx%d, annotation says %dx%d", format, cfg.Width, cfg.Height, im.Width, im.Height)}, true
	}
	return imageProblem{}, false
}

// Problems lists the fatal problems: a load error, missing or unreadable
// images, no annotation with a labeled joint.
func (r Report) Problems() []string {
	var out []string
	if r.LoadError != "" {
		return []string{r.LoadError}
	}
	if r.Missing > 0 {
		out = append(out, fmt.Sprintf("%d missing image files", r.Missing))
	}
	if r.Unreadable > 0 {
		out = append(out, fmt.Sprintf("%d unreadable image files", r.Unreadable))
	}
	if r.LabeledPersons == 0 {
		out = append(out, "no non-crowd annotation with a labeled joint")
	}
	return out
}

// Fatal reports whether the dataset cannot be used for training (see
// Problems).
func (r Report) Fatal() bool { return len(r.Problems()) > 0 }

// WriteText writes the report as a human-readable table.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("file\t%s\n", r.File)
	if r.LoadError != "" {
		p("load error\t%s\n", r.LoadError)
		p("status\tFATAL\n")
		return tw.Flush()
	}
	p("joints (K)\t%d\n", r.K)
	p("images\t%d\n", r.Images)
	p("images without annotations\t%d\n", r.ImagesWithoutAnnotations)
	p("annotations\t%d\n", r.Annotations)
	p("persons (non-crowd)\t%d\n", r.Persons)
	p("persons with >=1 labeled joint\t%d\n", r.LabeledPersons)
	p("empty persons (no labeled joint)\t%d\n", r.Empty)
	p("crowd annotations\t%d\n", r.Crowd)
	p("\njoint\tlabeled (v>0)\tvisible (v=2)\n")
	for _, j := range r.Joints {
		p("%s\t%d\t%d\n", j.Name, j.Labeled, j.Visible)
	}
	p("\nquirks repaired\t%d\n", len(r.Quirks))
	for _, q := range r.Quirks {
		p("  %s\n", q)
	}
	if r.ImagesDir == "" {
		p("\nimage files\tnot checked (no images directory)\n")
	} else {
		p("\nimages directory\t%s\n", r.ImagesDir)
		p("image files checked\t%d\n", r.ImagesChecked)
		p("missing\t%d\n", r.Missing)
		for _, s := range r.MissingExamples {
			p("  %s\n", s)
		}
		p("unreadable\t%d\n", r.Unreadable)
		for _, s := range r.UnreadableExamples {
			p("  %s\n", s)
		}
		p("size differs from annotation (warning)\t%d\n", r.SizeMismatch)
		for _, s := range r.SizeExamples {
			p("  %s\n", s)
		}
	}
	if probs := r.Problems(); len(probs) > 0 {
		p("status\tFATAL: %s\n", strings.Join(probs, "; "))
	} else {
		p("status\tOK\n")
	}
	return tw.Flush()
}
