package web_test

import (
	"fmt"

	"github.com/bsampose/bsampose/web"
)

func ExampleParseBox() {
	b, err := web.ParseBox("10, 20, 100.5, 200")
	fmt.Println(b.X, b.Y, b.W, b.H, err)
	_, err = web.ParseBox("10,20,0,200")
	fmt.Println(err)
	// Output:
	// 10 20 100.5 200 <nil>
	// web: box "10,20,0,200": width and height must be positive
}

func ExampleContentType() {
	for _, name := range []string{"posewasm.wasm", "app.js", "index.html", "model.bin"} {
		fmt.Println(name, web.ContentType(name))
	}
	// Output:
	// posewasm.wasm application/wasm
	// app.js text/javascript; charset=utf-8
	// index.html text/html; charset=utf-8
	// model.bin application/octet-stream
}
