package infer

import (
	"math"
	"math/rand/v2"
)

// RandomModel builds a model for meta with random weights: conv weights
// N(0, 2/fan_in) (so activations stay O(1)) and random biases.
func RandomModel(meta Meta, seed uint64) (*Model, error) {
	r := rand.New(rand.NewPCG(seed, 99))
	ts := tensorSet{vals: map[string][]float32{}, shapes: map[string][]int{}}
	ts.gen = func(name string, shape []int) []float32 {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		std := 0.1
		if len(shape) == 4 {
			std = 1.2 / float64(shape[1]*shape[2]*shape[3])
			std = math.Sqrt(2 * std)
		}
		for i := range v {
			v[i] = float32(std * r.NormFloat64())
		}
		return v
	}
	return build(meta, ts, true)
}
