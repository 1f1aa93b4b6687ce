package heatmap

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*_golden.npy from the current code")

// writeNpy writes a little-endian float32 .npy (format 1.0, C order).
func writeNpy(path string, shape []int, v []float32) error {
	dims := ""
	for i, d := range shape {
		if i > 0 {
			dims += ", "
		}
		dims += strconv.Itoa(d)
	}
	if len(shape) == 1 {
		dims += "," // numpy's 1-tuple
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims)
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	binary.Write(&b, binary.LittleEndian, v)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

var npyShape = regexp.MustCompile(`'shape': \(([0-9, ]*)\)`)

// readNpy reads what writeNpy writes (and numpy's own '<f4' C-order
// files).
func readNpy(path string) (shape []int, v []float32, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" || data[6] != 1 {
		return nil, nil, fmt.Errorf("%s: not a version 1 .npy file", path)
	}
	hl := int(binary.LittleEndian.Uint16(data[8:10]))
	if len(data) < 10+hl {
		return nil, nil, fmt.Errorf("%s: short header", path)
	}
	header := string(data[10 : 10+hl])
	if !bytes.Contains([]byte(header), []byte("'<f4'")) || !bytes.Contains([]byte(header), []byte("False")) {
		return nil, nil, fmt.Errorf("%s: want little-endian float32 in C order, header %q", path, header)
	}
	m := npyShape.FindStringSubmatch(header)
	if m == nil {
		return nil, nil, fmt.Errorf("%s: no shape in header %q", path, header)
	}
	n := 1
	for _, f := range regexp.MustCompile(`[0-9]+`).FindAllString(m[1], -1) {
		d, _ := strconv.Atoi(f)
		shape = append(shape, d)
		n *= d
	}
	body := data[10+hl:]
	if len(body) != 4*n {
		return nil, nil, fmt.Errorf("%s: %d data bytes, want %d", path, len(body), 4*n)
	}
	v = make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return shape, v, nil
}

// TestGolden compares the encoded targets of fixed keypoints (interior,
// sub-pixel, border, off-map, unlabeled) with testdata goldens, within
// 1e-6. Regenerate with go test -update after an intended change.
func TestGolden(t *testing.T) {
	kps := []Point{{41.3, 62.9}, {1.2, 126.5}, {-9, 30}, {50, 50}, {95.6, 0.4}}
	vis := []bool{true, true, true, false, true}
	tests := []struct {
		name string
		c    MSRA
	}{
		{"msra_K5_H32W24", codec128},
		{"msra_dark_K5_H32W24", MSRA{InputW: 96, InputH: 128, W: 24, H: 32, Sigma: 1, DARK: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			K := len(kps)
			got := make([]float32, K*tt.c.H*tt.c.W)
			w := tt.c.Encode(got, kps, vis)
			got = append(got, w...) // weights appended after the K*H*W targets
			path := filepath.Join("testdata", tt.name+"_golden.npy")
			if *update {
				if err := writeNpy(path, []int{len(got)}, got); err != nil {
					t.Fatal(err)
				}
			}
			shape, want, err := readNpy(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != 1 || len(want) != len(got) {
				t.Fatalf("golden shape %v, want [%d]", shape, len(got))
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-6 {
					t.Fatalf("value %d = %v, golden %v", i, got[i], want[i])
				}
			}
		})
	}
}
