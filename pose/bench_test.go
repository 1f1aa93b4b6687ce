package pose

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// peakRSSMB returns the process's peak resident set size in MB (VmHWM on
// Linux), or -1 where /proc is not available.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return -1
}

// benchNet builds posenet-s at its default 128x96 input with 17 joints.
func benchNet(b *testing.B, batch int) (*Net, []float32, []float32, []float32) {
	b.Helper()
	h, w := DefaultInput(PresetPoseNetS)
	n := mustNew(b, Config{Preset: PresetPoseNetS, InputH: h, InputW: w, Joints: 17}, batch, 1)
	x, tg, wt := batchData(n, 1)
	return n, x, tg, wt
}

// BenchmarkForward measures eval-mode inference of posenet-s at 128x96;
// img/s is the throughput.
func BenchmarkForward(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("B%d", batch), func(b *testing.B) {
			n, x, _, _ := benchNet(b, batch)
			if _, err := n.Forward(x, batch); err != nil { // build the eval graph
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := n.Forward(x, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(batch*b.N), "cpu-s/img")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
	}
}

// BenchmarkTrainStep measures one training forward+backward pass of
// posenet-s at 128x96 (an SGD step minus the parameter update; a BSAM
// step is three of these).
func BenchmarkTrainStep(b *testing.B) {
	for _, batch := range []int{32} {
		b.Run(fmt.Sprintf("B%d", batch), func(b *testing.B) {
			n, x, tg, wt := benchNet(b, batch)
			if _, err := n.TrainStep(x, tg, wt, true); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := n.TrainStep(x, tg, wt, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(batch*b.N), "cpu-s/img")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
	}
}
