//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"
)

// promise returns a JS Promise settled by work, which runs in a goroutine
// after a setTimeout(0) yield, so the caller's JS continues first.
func promise(work func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, rejectFn := args[0], args[1]
		go func() {
			yield()
			v, err := recovered(work)
			if err != nil {
				rejectFn.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(js.ValueOf(v))
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release() // the executor runs synchronously inside new Promise
	return p
}

// recovered runs work, turning a panic into an error: a panic would
// otherwise end the Go program and with it the page's API.
func recovered(work func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("posewasm: %v", r)
		}
	}()
	return work()
}

// method wraps a JS method so that bad arguments (a panic in syscall/js
// conversions) reject the returned Promise instead of killing Go.
func method(fn func(args []js.Value) js.Value) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (res any) {
		defer func() {
			if r := recover(); r != nil {
				res = reject(fmt.Errorf("posewasm: bad arguments: %v", r))
			}
		}()
		return fn(args)
	})
}

// reject returns an already rejected Promise.
func reject(err error) js.Value {
	return js.Global().Get("Promise").Call("reject", js.Global().Get("Error").New(err.Error()))
}

// yield gives control back to the JS event loop until a zero-delay timer
// fires.
func yield() {
	done := make(chan struct{})
	var cb js.Func
	cb = js.FuncOf(func(js.Value, []js.Value) any {
		close(done)
		cb.Release()
		return nil
	})
	js.Global().Call("setTimeout", cb, 0)
	<-done
}

// bytesArg returns args[i] (a Uint8Array, Uint8ClampedArray, ArrayBuffer
// or any typed array) as a Uint8Array view.
func bytesArg(args []js.Value, i int) js.Value {
	if i >= len(args) {
		return js.Global().Get("Uint8Array").New(0)
	}
	v := args[i]
	u8 := js.Global().Get("Uint8Array")
	if v.InstanceOf(u8) {
		return v
	}
	if v.InstanceOf(js.Global().Get("ArrayBuffer")) {
		return u8.New(v)
	}
	return u8.New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength"))
}

// copyBytes copies a Uint8Array into dst (reused when large enough).
func copyBytes(dst []byte, src js.Value) []byte {
	n := src.Get("byteLength").Int()
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	js.CopyBytesToGo(dst, src)
	return dst
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func pairs(p [][2]int) []any {
	out := make([]any, len(p))
	for i, v := range p {
		out[i] = []any{v[0], v[1]}
	}
	return out
}
