package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/kern"
)

func init() {
	commands["bench"] = command{"forward, SGD-step and BSAM-step images/s and peak memory on random data, as one JSON line", runBench}
}

// benchResult is the JSON line printed by `posetrain bench`.
type benchResult struct {
	Preset    string  `json:"preset"`
	Batch     int     `json:"batch"`
	InputH    int     `json:"input_h"`
	InputW    int     `json:"input_w"`
	Steps     int     `json:"steps"`
	FwdImgS   float64 `json:"fwd_img_s"`
	SGDImgS   float64 `json:"sgd_img_s,omitempty"`
	SAMImgS   float64 `json:"sam_img_s,omitempty"`
	BSAMImgS  float64 `json:"bsam_img_s,omitempty"`
	PeakRSSMB float64 `json:"peak_rss_mb"`

	// The kernels that ran (kern.Path: avx512, avx2 or generic), the
	// measured FP32 FMA peak of each vector width with 1 and 2 threads
	// (GFLOP/s per second of the threads' own CPU time, so other load on
	// the machine does not lower it; 0 where the CPU lacks it), the
	// nominal GFLOP/s of each figure (convolutions counted as direct
	// ones; per second of wall time) and its share of the peak of the
	// path's vector width with GOMAXPROCS threads. The share is taken
	// per CPU-second (FLOPs per CPU-second of the process against the
	// peak per thread), which on a quiet machine with every core busy is
	// the wall-time ratio and on a shared one stays comparable.
	KernPath string  `json:"kern_path"`
	Threads  int     `json:"threads"`
	PeakYmm1 float64 `json:"peak_ymm_1t_gflop_s,omitempty"`
	PeakYmm2 float64 `json:"peak_ymm_2t_gflop_s,omitempty"`
	PeakZmm1 float64 `json:"peak_zmm_1t_gflop_s,omitempty"`
	PeakZmm2 float64 `json:"peak_zmm_2t_gflop_s,omitempty"`
	PeakRef  float64 `json:"peak_gflop_s,omitempty"`
	PeakISA  string  `json:"peak_isa,omitempty"`
	FwdGF    float64 `json:"fwd_gflop_s,omitempty"`
	SGDGF    float64 `json:"sgd_gflop_s,omitempty"`
	SAMGF    float64 `json:"sam_gflop_s,omitempty"`
	BSAMGF   float64 `json:"bsam_gflop_s,omitempty"`
	FwdPct   float64 `json:"fwd_pct_peak,omitempty"`
	SGDPct   float64 `json:"sgd_pct_peak,omitempty"`
	SAMPct   float64 `json:"sam_pct_peak,omitempty"`
	BSAMPct  float64 `json:"bsam_pct_peak,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	preset := fs.String("preset", "posenet-s", "network preset")
	batch := fs.Int("batch", 32, "batch size")
	input := fs.String("input", "", "input HxW (default: the preset's)")
	joints := fs.Int("joints", 17, "number of joints")
	steps := fs.Int("steps", 5, "timed iterations per measurement (after one warm-up)")
	which := fs.String("optim", "all", "which steps to time: sgd | sam | bsam | all")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed iterations to this file")
	peakDur := fs.Duration("peak-time", 300*time.Millisecond, "how long each FMA peak measurement runs (0: skip them)")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	h, w := pose.DefaultInput(*preset)
	if *input != "" {
		var err error
		if h, w, err = parseHW(*input); err != nil {
			fmt.Fprintf(stderr, "posetrain bench: --input: %v\n", err)
			return 2
		}
	}
	net, err := pose.New(pose.Config{Preset: *preset, InputH: h, InputW: w, Joints: *joints}, *batch, 1)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain bench: %v\n", err)
		return 1
	}
	defer net.Close()
	k, hh, hw := net.OutputShape()
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, *batch*3*h*w)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	target := make([]float32, *batch*k*hh*hw)
	for i := range target {
		target[i] = r.Float32() * 0.1
	}
	weight := make([]float32, *batch*k)
	for i := range weight {
		weight[i] = 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "posetrain bench: cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res := benchResult{Preset: *preset, Batch: *batch, InputH: h, InputW: w, Steps: *steps, KernPath: kern.Path(), Threads: runtime.GOMAXPROCS(0)}
	if *peakDur > 0 {
		res.PeakYmm1 = round1(kern.FMAPeak("ymm", 1, *peakDur))
		res.PeakYmm2 = round1(kern.FMAPeak("ymm", 2, *peakDur))
		res.PeakZmm1 = round1(kern.FMAPeak("zmm", 1, *peakDur))
		res.PeakZmm2 = round1(kern.FMAPeak("zmm", 2, *peakDur))
		isa := "ymm"
		if res.KernPath == "avx512" {
			isa = "zmm"
		}
		res.PeakRef, res.PeakISA = round1(kern.FMAPeak(isa, res.Threads, *peakDur)), isa
		fmt.Fprintf(stderr, "kernels %s; FMA peak GFLOP/s: ymm %.0f (1 thread) %.0f (2); zmm %.0f (1) %.0f (2); %s with %d threads %.0f\n",
			res.KernPath, res.PeakYmm1, res.PeakYmm2, res.PeakZmm1, res.PeakZmm2, isa, res.Threads, res.PeakRef)
	}
	var lastGF, lastPct float64 // the GFLOP/s and % of peak of the last timed figure
	timeIt := func(name string, f func() error) (float64, error) {
		if err := f(); err != nil { // warm-up: builds graphs, touches buffers
			return 0, err
		}
		start, cpu0, f0 := time.Now(), procCPUSeconds(), kern.FLOPs()
		for i := 0; i < *steps; i++ {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if err := f(); err != nil {
				return 0, err
			}
		}
		el := time.Since(start).Seconds()
		ips := float64(*steps**batch) / el
		fl := float64(kern.FLOPs() - f0)
		lastGF, lastPct = fl/el/1e9, 0
		pct := ""
		if res.PeakRef > 0 {
			lastPct = 100 * lastGF / res.PeakRef
			if cpu := procCPUSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
				lastPct = 100 * (fl / cpu / 1e9) / (res.PeakRef / float64(res.Threads))
			}
			pct = fmt.Sprintf(", %.0f %% of the %s peak", lastPct, res.PeakISA)
		}
		fmt.Fprintf(stderr, "%-8s %8.1f GFLOP/s%s\n", name, lastGF, pct)
		if cpu := procCPUSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			// On a shared machine the wall-clock rate depends on the other
			// load; images per CPU-second times GOMAXPROCS is the rate the
			// process would reach with its cores to itself (if it kept them
			// all busy).
			perCPU := float64(*steps**batch) / cpu
			fmt.Fprintf(stderr, "%-8s %8.1f img/s  %8.1f img/cpu-s  (x%d procs = %.1f if alone)\n", name, ips, perCPU, runtime.GOMAXPROCS(0), perCPU*float64(runtime.GOMAXPROCS(0)))
		} else {
			fmt.Fprintf(stderr, "%-8s %8.1f img/s\n", name, ips)
		}
		return ips, nil
	}
	params := make([]*optim.Param, len(net.Params()))
	for i, t := range net.Params() {
		params[i] = &optim.Param{Name: t.Name, Value: t.Value, Grad: t.Grad}
	}
	grad := func(p optim.Pass) (float64, error) { return net.TrainStep(x, target, weight, p == optim.PassCenter) }
	stepWith := func(s optim.Stepper) func() error {
		return func() error { _, err := s.Step(params, grad); return err }
	}
	run := func(name string, dst *float64, f func() error) bool {
		v, err := timeIt(name, f)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain bench: %s: %v\n", name, err)
			return false
		}
		*dst = v
		gf, pct := map[string]*float64{"forward": &res.FwdGF, "sgd": &res.SGDGF, "sam": &res.SAMGF, "bsam": &res.BSAMGF}[name], map[string]*float64{"forward": &res.FwdPct, "sgd": &res.SGDPct, "sam": &res.SAMPct, "bsam": &res.BSAMPct}[name]
		*gf = round1(lastGF)
		*pct = round1(lastPct)
		return true
	}
	if !run("forward", &res.FwdImgS, func() error { _, err := net.Forward(x, *batch); return err }) {
		return 1
	}
	all := *which == "all"
	if (all || *which == "sgd") && !run("sgd", &res.SGDImgS, stepWith(optim.NewPlain(optim.NewSGD(1e-4, 0.9, 0)))) {
		return 1
	}
	if *which == "sam" && !run("sam", &res.SAMImgS, stepWith(optim.NewSAM(optim.NewSGD(1e-4, 0.9, 0), 0.05))) {
		return 1
	}
	if (all || *which == "bsam") && !run("bsam", &res.BSAMImgS, stepWith(optim.NewBSAM(optim.NewSGD(1e-4, 0.9, 0), optim.BSAMConfig{RhoMax: 0.05, RhoMin: 0.05}))) {
		return 1
	}
	res.PeakRSSMB = peakRSSMB()
	b, _ := json.Marshal(res)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// procCPUSeconds returns the user+system CPU time of this process from
// /proc/self/stat (Linux; fields 14 and 15, in USER_HZ = 100 ticks), or
// -1 where that file does not exist.
func procCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (u + st) / 100
}
