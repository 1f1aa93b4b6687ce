//go:build js && wasm

// Command posewasm is the browser glue of the pose network: it registers
// the global object bsampose with
//
//	bsampose.load(modelBytes: Uint8Array) -> Promise<{names, skeleton, flip_pairs, input_w, input_h, preset, joints, simd, kernel, decode_ms, pack_ms, warmup_ms (0: none)}>
//	bsampose.predict(rgba, width, height, box?: [x,y,w,h], opts?: {flip}) -> Promise<{keypoints: [{name,x,y,score}], ms, kernel}>
//	bsampose.bench(iterations) -> Promise<{median_ms, min_ms, mean_ms, iterations, kernel}>
//
// and calls globalThis.__bsamposeReady(bsampose) when ready (see
// web/static/posewasm.js). Work runs in a goroutine after yielding to
// the event loop, and resolves a Promise.
package main

import (
	"fmt"
	"image"
	"syscall/js"
	"time"

	"github.com/bsampose/bsampose/pose/geom"
	"github.com/bsampose/bsampose/pose/infer"
)

var (
	model *infer.Model
	pix   []byte // reused RGBA pixels
	busy  int    // predictions in flight (all on the one JS thread)
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("load", method(func(args []js.Value) js.Value {
		src := copyBytes(nil, bytesArg(args, 0))
		return promise(func() (any, error) { return load(src) })
	}))
	api.Set("predict", method(func(args []js.Value) js.Value {
		if len(args) < 3 {
			return reject(fmt.Errorf("posewasm: predict(rgba, width, height, box?, opts?)"))
		}
		w, h := args[1].Int(), args[2].Int()
		// Reuse the pixel buffer unless a prediction still holds it (the
		// page did not await the previous call).
		var px []byte
		if busy == 0 {
			pix = copyBytes(pix, bytesArg(args, 0))
			px = pix
		} else {
			px = copyBytes(nil, bytesArg(args, 0))
		}
		box := geom.Box{W: float64(w), H: float64(h)}
		if len(args) > 3 && args[3].Truthy() {
			b := args[3]
			if b.Length() != 4 {
				return reject(fmt.Errorf("posewasm: box must be [x, y, w, h]"))
			}
			box = geom.Box{X: b.Index(0).Float(), Y: b.Index(1).Float(), W: b.Index(2).Float(), H: b.Index(3).Float()}
		}
		flip := len(args) > 4 && args[4].Truthy() && args[4].Get("flip").Truthy()
		busy++
		return promise(func() (any, error) {
			defer func() { busy-- }()
			return predict(px, w, h, box, flip)
		})
	}))
	api.Set("bench", method(func(args []js.Value) js.Value {
		n := 20
		if len(args) > 0 && args[0].Truthy() {
			n = min(max(args[0].Int(), 1), 10000)
		}
		return promise(func() (any, error) { return bench(n) })
	}))
	js.Global().Set("bsampose", api)
	if ready := js.Global().Get("__bsamposeReady"); ready.Type() == js.TypeFunction {
		ready.Invoke(api)
	}
	select {}
}

func load(src []byte) (any, error) {
	t0 := time.Now()
	m, err := infer.DecodeInPlace(src) // src is ours: the weights may alias it
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	useSIMD := installKernel(m)
	model = m
	md := m.Meta
	// No warm-up forward pass (warmup_ms stays 0 for the page's report):
	// it would delay the first result by one inference, and the first
	// real prediction allocates the buffers just the same.
	t2 := time.Now()
	return map[string]any{
		"names": strs(md.Names), "skeleton": pairs(md.Skeleton), "flip_pairs": pairs(md.FlipPairs),
		"input_w": md.InputW, "input_h": md.InputH, "preset": md.Preset, "joints": md.Joints,
		"simd": useSIMD, "kernel": m.Kernel().Name(),
		"decode_ms": ms(t1.Sub(t0)), "pack_ms": ms(t2.Sub(t1)), "warmup_ms": 0,
	}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func predict(pix []byte, w, h int, box geom.Box, flip bool) (any, error) {
	if model == nil {
		return nil, fmt.Errorf("posewasm: predict before load")
	}
	if w <= 0 || h <= 0 || len(pix) != 4*w*h {
		return nil, fmt.Errorf("posewasm: %d bytes of pixels for %dx%d RGBA", len(pix), w, h)
	}
	img := &image.NRGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	t0 := time.Now()
	kps, err := model.PredictImage(img, box, flip)
	ms := float64(time.Since(t0).Microseconds()) / 1000
	if err != nil {
		return nil, err
	}
	out := make([]any, len(kps))
	for i, k := range kps {
		out[i] = map[string]any{"name": k.Name, "x": k.X, "y": k.Y, "score": k.Score}
	}
	return map[string]any{"keypoints": out, "ms": ms, "kernel": model.Kernel().Name()}, nil
}
