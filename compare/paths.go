package compare

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/bsampose/bsampose/train"
)

// PathsNote is results.json's "paths" field: how to read its paths.
const PathsNote = "run folders and checkpoints are relative to this comparison's folder (--out); annotation and image paths are relative to the repository root (the folder of go.mod), or to --out when compare ran outside the repository"

// repoRoot returns the folder of this module's go.mod at or above the
// working directory, or "".
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/bsampose/bsampose\n")) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// relTo returns p relative to base ("" stays ""; p unchanged when no
// relative path exists).
func relTo(base, p string) string {
	if p == "" {
		return ""
	}
	ab, err1 := filepath.Abs(base)
	ap, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return p
	}
	r, err := filepath.Rel(ab, ap)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// portable returns a copy of res whose paths follow PathsNote, for
// results.json and results.md; res itself is unchanged.
func portable(res *Results, out string) *Results {
	data := repoRoot()
	if data == "" {
		data = out
	}
	cfg := func(c train.Config) train.Config {
		c.Ann, c.Images = relTo(data, c.Ann), relTo(data, c.Images)
		c.ValAnn, c.ValImages = relTo(data, c.ValAnn), relTo(data, c.ValImages)
		return c
	}
	cp := *res
	cp.Paths = PathsNote
	cp.Protocol = cfg(res.Protocol)
	cp.Split = relTo(data, res.Split)
	cp.Optims = make([]*Optim, len(res.Optims))
	for i, o := range res.Optims {
		o2 := *o
		if o.Settings != nil {
			s := cfg(*o.Settings)
			o2.Settings = &s
		}
		o2.Runs = make([]Run, len(o.Runs))
		for j, r := range o.Runs {
			r.Dir = relTo(out, r.Dir)
			if r.Summary != nil {
				s := *r.Summary
				s.Last, s.Best = relTo(out, s.Last), relTo(out, s.Best)
				r.Summary = &s
			}
			if r.Eval != nil {
				e := *r.Eval
				for _, se := range []**SetEval{&e.Final, &e.Probe} {
					if *se != nil {
						v := **se
						v.Ann = relTo(data, v.Ann)
						*se = &v
					}
				}
				r.Eval = &e
			}
			o2.Runs[j] = r
		}
		cp.Optims[i] = &o2
	}
	return &cp
}
