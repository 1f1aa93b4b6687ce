package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/train"
)

func init() {
	commands["distbench"] = command{"data-parallel step images/s and the share of time in allreduce (under mpirun with --dist mpi), as one JSON line", runDistBench}
}

// distBenchResult is the JSON line printed by rank 0 of `posetrain distbench`.
type distBenchResult struct {
	Preset     string  `json:"preset"`
	Optim      string  `json:"optim"`
	Ranks      int     `json:"ranks"`
	GoMaxProcs int     `json:"gomaxprocs"` // of rank 0
	Batch      int     `json:"batch"`      // global
	PerRank    int     `json:"per_rank"`
	Steps      int     `json:"steps"`
	ImgS       float64 `json:"img_s"`       // global images per second
	StepS      float64 `json:"step_s"`      // seconds per step (rank 0)
	CommS      float64 `json:"comm_s"`      // seconds per step in collectives (rank 0)
	CommShare  float64 `json:"comm_share"`  // CommS / StepS
	GradMB     float64 `json:"grad_mb"`     // bytes per gradient allreduce / 1e6
	AllreduceS float64 `json:"allreduce_s"` // one allreduce of GradMB alone, median of 5
	CPUImgS    float64 `json:"cpu_img_s"`   // images per CPU-second of rank 0 times the ranks (the rate without other load, if compute-bound)
}

func runDistBench(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("distbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("dist", "none", "none | mpi")
	preset := fs.String("preset", "posenet-s", "network preset")
	batch := fs.Int("batch", 32, "global batch size (each rank takes batch/ranks)")
	input := fs.String("input", "", "input HxW (default: the preset's)")
	joints := fs.Int("joints", 17, "number of joints")
	steps := fs.Int("steps", 5, "timed steps (after one warm-up)")
	which := fs.String("optim", "bsam", "sgd | sam | bsam")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	comm, err := dist.Open(*engine)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
		return 2
	}
	defer func() { code = endDist(comm, code, stderr) }()
	if *batch%comm.Size() != 0 {
		fmt.Fprintf(stderr, "posetrain distbench: --batch %d is not a multiple of %d ranks\n", *batch, comm.Size())
		return 2
	}
	per := *batch / comm.Size()
	h, w := pose.DefaultInput(*preset)
	if *input != "" {
		if h, w, err = parseHW(*input); err != nil {
			fmt.Fprintf(stderr, "posetrain distbench: --input: %v\n", err)
			return 2
		}
	}
	net, err := pose.New(pose.Config{Preset: *preset, InputH: h, InputW: w, Joints: *joints}, per, 1)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
		return 1
	}
	defer net.Close()
	k, hh, hw := net.OutputShape()
	r := rand.New(rand.NewPCG(1, uint64(comm.Rank())))
	x := make([]float32, per*3*h*w)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	target := make([]float32, per*k*hh*hw)
	for i := range target {
		target[i] = r.Float32() * 0.1
	}
	weight := make([]float32, per*k)
	for i := range weight {
		weight[i] = 1
	}
	params := make([]*optim.Param, len(net.Params()))
	n := 0
	for i, t := range net.Params() {
		params[i] = &optim.Param{Name: t.Name, Value: t.Value, Grad: t.Grad}
		n += len(t.Value)
	}
	var s optim.Stepper
	base := optim.NewSGD(1e-4, 0.9, 0)
	switch *which {
	case "sgd":
		s = optim.NewPlain(base)
	case "sam":
		s = optim.NewSAM(base, 0.05)
	case "bsam":
		s = optim.NewBSAM(base, optim.BSAMConfig{RhoMax: 0.05, RhoMin: 0.05})
	default:
		fmt.Fprintf(stderr, "posetrain distbench: --optim %q: want sgd, sam or bsam\n", *which)
		return 2
	}
	var inComm time.Duration
	grad := train.ExactGradFunc(comm, net, x, target, weight, &inComm)
	step := func() error { _, err := s.Step(params, grad); return err }
	if err := step(); err != nil { // warm-up
		fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
		return 1
	}
	if err := comm.Barrier(); err != nil {
		fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
		return 1
	}
	inComm = 0
	start, cpu0 := time.Now(), procCPUSeconds()
	for range *steps {
		if err := step(); err != nil {
			fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
			return 1
		}
	}
	wall := time.Since(start).Seconds()
	cpu := procCPUSeconds() - cpu0
	// One allreduce of the gradient's size alone.
	buf := make([]float32, n)
	var times []float64
	for range 5 {
		comm.Barrier()
		t0 := time.Now()
		if err := comm.AllreduceSum32(buf); err != nil {
			fmt.Fprintf(stderr, "posetrain distbench: %v\n", err)
			return 1
		}
		times = append(times, time.Since(t0).Seconds())
	}
	for i := range times { // median of 5
		for j := i + 1; j < len(times); j++ {
			if times[j] < times[i] {
				times[i], times[j] = times[j], times[i]
			}
		}
	}
	res := distBenchResult{
		Preset: *preset, Optim: *which, Ranks: comm.Size(), GoMaxProcs: runtime.GOMAXPROCS(0),
		Batch: *batch, PerRank: per, Steps: *steps,
		ImgS: float64(*steps**batch) / wall, StepS: wall / float64(*steps),
		CommS: inComm.Seconds() / float64(*steps), GradMB: float64(4*n) / 1e6, AllreduceS: times[2],
	}
	res.CommShare = res.CommS / res.StepS
	if cpu > 0 {
		res.CPUImgS = float64(*steps*per) / cpu * float64(comm.Size())
	}
	if comm.Rank() == 0 {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return 0
}
