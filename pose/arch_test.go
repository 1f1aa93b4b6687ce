package pose

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestTensorsGolden: for every preset, the tensors New creates (names,
// shapes, trainable, order, and the sums of their seeded initial values)
// equal those of the code before the networks were built from package
// arch (testdata/tensors_golden.txt, written once by that code), so old
// checkpoints load and seeded runs start from the same weights; and they
// are, in the same order, the description's Tensors().
func TestTensorsGolden(t *testing.T) {
	f, err := os.Open("testdata/tensors_golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	golden := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			p, rest, _ := strings.Cut(line, " ")
			golden[p] = append(golden[p], rest)
		}
	}
	for _, preset := range Presets() {
		t.Run(preset, func(t *testing.T) {
			cfg := Config{Preset: preset, InputH: 64, InputW: 64, Joints: 17}
			net, err := New(cfg, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			all := append(append([]*Tensor{}, net.Params()...), net.Buffers()...)
			want := golden[preset]
			if len(all) != len(want) {
				t.Fatalf("%d tensors, golden has %d", len(all), len(want))
			}
			for i, tn := range all {
				f := strings.Fields(want[i])
				shape := strings.Trim(strings.ReplaceAll(fmt.Sprint(tn.Shape), " ", "x"), "[]")
				if f[0] != tn.Name || f[1] != shape || f[2] != strconv.FormatBool(tn.Grad != nil) {
					t.Fatalf("tensor %d: %s %s %v, golden %s", i, tn.Name, shape, tn.Grad != nil, want[i])
				}
				var s, s2 float64
				for _, v := range tn.Value {
					s += float64(v)
					s2 += float64(v) * float64(v)
				}
				ws, _ := strconv.ParseFloat(f[3], 64)
				ws2, _ := strconv.ParseFloat(f[4], 64)
				if math.Abs(s-ws) > 1e-6*max(1, math.Abs(ws)) || math.Abs(s2-ws2) > 1e-6*max(1, ws2) {
					t.Errorf("%s: initial values sum %g, sum sq %g; golden %g, %g", tn.Name, s, s2, ws, ws2)
				}
			}
			desc, err := cfg.Arch()
			if err != nil {
				t.Fatal(err)
			}
			var params, bufs []*Tensor
			for _, dt := range desc.Tensors() {
				tn := net.byName[dt.Name]
				if tn == nil || fmt.Sprint(tn.Shape) != fmt.Sprint(dt.Shape) || (tn.Grad != nil) != dt.Trainable {
					t.Fatalf("description tensor %s %v (trainable %v) is not the net's %+v", dt.Name, dt.Shape, dt.Trainable, tn)
				}
				if dt.Trainable {
					params = append(params, tn)
				} else {
					bufs = append(bufs, tn)
				}
			}
			if fmt.Sprint(params) != fmt.Sprint(net.Params()) || fmt.Sprint(bufs) != fmt.Sprint(net.Buffers()) {
				t.Errorf("the description's tensor order differs from Params/Buffers")
			}
		})
	}
}
