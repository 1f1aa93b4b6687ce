package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/bsampose/bsampose/coco"
)

func init() {
	commands["check"] = command{
		summary: "dataset report of a COCO keypoints file; lists missing or unreadable images (exit 1 if any)",
		run:     runCheck,
	}
}

// checkConfig holds the flags of `posetrain check`.
type checkConfig struct {
	Ann    string // COCO keypoints annotation file
	Images string // images folder; "" checks the annotations only
	JSON   bool   // print the report as one JSON object
}

// runCheck loads --ann, checks every image under --images and prints the
// report on stdout. Exit status: 0 usable, 1 fatal problems (load error,
// missing or unreadable images, no labeled person), 2 usage error.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg checkConfig
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Ann, "ann", "", "COCO keypoints annotation `file` (required)")
	fs.StringVar(&cfg.Images, "images", "", "images `folder` that file_name is relative to (default: check the annotations only)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posetrain check --ann FILE [--images DIR] [--json]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if cfg.Ann == "" {
		fmt.Fprintln(stderr, "posetrain check: --ann is required")
		fs.Usage()
		return 2
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(stderr, "posetrain check: %v\n", err)
		return 1
	}
	var r coco.Report
	d, err := coco.Load(cfg.Ann)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain check: %v\n", err)
		r = coco.Report{File: cfg.Ann, ImagesDir: cfg.Images, LoadError: err.Error()}
	} else {
		if cfg.Images != "" {
			fmt.Fprintf(stderr, "posetrain check: reading the headers of %d images under %s\n", len(d.Images), cfg.Images)
		}
		r = coco.Check(d, cfg.Images)
	}
	if cfg.JSON {
		b, err := json.Marshal(r)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain check: %v\n", err)
			return 1
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			fmt.Fprintf(stderr, "posetrain check: %v\n", err)
			return 1
		}
	} else if err := r.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "posetrain check: %v\n", err)
		return 1
	}
	if r.Fatal() {
		return 1
	}
	return 0
}
