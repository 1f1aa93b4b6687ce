package pose

import (
	"slices"
	"testing"
)

func TestMaxPool(t *testing.T) {
	tests := []struct {
		name    string
		h, w    int
		x       []float32
		wantY   []float32
		dy      []float32
		wantDX  []float32
		wantArg []int32
	}{
		{
			name: "4x4",
			h:    4, w: 4,
			x: []float32{
				1, 2, 3, 4,
				5, 6, 7, 8,
				9, 10, 11, 12,
				13, 14, 15, 16,
			},
			// windows rows/cols {-1,0,1} and {1,2,3}
			wantY:   []float32{6, 8, 14, 16},
			wantArg: []int32{5, 7, 13, 15},
			dy:      []float32{1, 2, 3, 4},
			wantDX: []float32{
				0, 0, 0, 0,
				0, 1, 0, 2,
				0, 0, 0, 0,
				0, 3, 0, 4,
			},
		},
		{
			name: "3x3 shared maximum",
			h:    3, w: 3,
			x: []float32{
				-5, -1, -5,
				-5, -5, -5,
				-5, -5, -2,
			},
			// windows rows/cols {0,1} and {1,2}: -1 wins three windows.
			wantY:   []float32{-1, -1, -5, -2},
			wantArg: []int32{1, 1, 3, 8},
			dy:      []float32{1, 10, 100, 1000},
			wantDX: []float32{
				0, 11, 0,
				100, 0, 0,
				0, 0, 1000,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := maxPool{n: 1, c: 1, h: tc.h, w: tc.w}
			y := make([]float32, p.outH()*p.outW())
			arg := make([]int32, len(y))
			p.forward(tc.x, y, arg)
			if !slices.Equal(y, tc.wantY) || !slices.Equal(arg, tc.wantArg) {
				t.Errorf("forward: y %v arg %v, want %v %v", y, arg, tc.wantY, tc.wantArg)
			}
			dx := make([]float32, len(tc.x))
			for i := range dx {
				dx[i] = 99 // must be overwritten
			}
			p.backward(tc.dy, arg, dx)
			if !slices.Equal(dx, tc.wantDX) {
				t.Errorf("backward: %v, want %v", dx, tc.wantDX)
			}
		})
	}
}
