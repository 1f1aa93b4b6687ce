package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/bsampose/bsampose/compare"
	"github.com/bsampose/bsampose/sharp"
)

func init() {
	commands["sharpness"] = command{"flatness of a checkpoint: MaxS/MinS, top Hessian eigenvalue, trace, loss profile", runSharpness}
}

// sharpFlags registers the flatness flags shared by sharpness and compare.
func sharpFlags(fs *flag.FlagSet, c *sharp.Config) {
	fs.Float64Var(&c.Rho, "rho", 0.05, "radius of the MaxS/MinS points")
	fs.IntVar(&c.PowerIters, "power-iters", 20, "power iterations for the top Hessian eigenvalue (-1: skip)")
	fs.IntVar(&c.Hutchinson, "hutchinson", 30, "Rademacher vectors for the Hessian trace (-1: skip)")
	fs.Float64Var(&c.Eps, "hvp-eps", 1e-2, "finite-difference step of the Hessian-vector products")
	fs.Float64Var(&c.ProfileRange, "profile-range", 1, "loss profile over alpha in [-r, r] (-1: skip)")
	fs.IntVar(&c.ProfilePts, "profile-points", 41, "loss profile points")
}

func runSharpness(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sharpness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var job compare.SharpnessJob
	fs.StringVar(&job.Setup.Model, "model", "", "checkpoint (.safetensors)")
	fs.StringVar(&job.Setup.Ann, "ann", "", "annotations the fixed batches come from (normally the training set)")
	fs.StringVar(&job.Setup.Images, "images", "", "folder the file_names are relative to")
	fs.IntVar(&job.Setup.Batches, "batches", 4, "fixed batches (no augmentation) the loss is averaged over")
	fs.IntVar(&job.Setup.BatchSize, "batch-size", 32, "persons per batch")
	fs.Int64Var(&job.Setup.Seed, "seed", 1, "which persons form the batches, and the random directions")
	fs.IntVar(&job.Setup.Workers, "workers", 2, "data loading workers")
	sharpFlags(fs, &job.Config)
	fs.StringVar(&job.Out, "out", "", "folder for sharpness.json and loss_profile.png (default: none written)")
	asJSON := fs.Bool("json", false, "print the JSON report on stdout instead of the table")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if job.Setup.Model == "" || job.Setup.Ann == "" || job.Setup.Images == "" {
		fmt.Fprintln(stderr, "posetrain sharpness: --model, --ann and --images are required")
		fs.Usage()
		return 2
	}
	job.Config.Seed = uint64(job.Setup.Seed)
	rep, err := compare.Sharpness(ctx, job, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain sharpness: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return 0
	}
	rep.WriteTable(stdout)
	if rep.Eigen != nil {
		fmt.Fprintf(stdout, "%-22s", "power iteration")
		for _, e := range rep.Eigen.Estimates {
			fmt.Fprintf(stdout, " %.4g", e)
		}
		fmt.Fprintln(stdout)
	}
	return 0
}
