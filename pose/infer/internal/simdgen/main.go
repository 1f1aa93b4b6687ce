// Command simdgen writes the SIMD128 GEMM modules assembled by package
// pose/infer/simd to .wasm files (go generate ./pose/infer/simd, or
// scripts/build-wasm.sh): -o gets the plain SIMD128 module, -relaxed the
// relaxed-SIMD (FMA) variant.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bsampose/bsampose/pose/infer/simd"
)

func main() {
	out := flag.String("o", "posewasm-simd.wasm", "output file of the SIMD128 module")
	relaxed := flag.String("relaxed", "", "output file of the relaxed-SIMD module (none if empty)")
	flag.Parse()
	if err := os.WriteFile(*out, simd.Module(), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "simdgen: %v\n", err)
		os.Exit(1)
	}
	if *relaxed != "" {
		if err := os.WriteFile(*relaxed, simd.ModuleRelaxed(), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "simdgen: %v\n", err)
			os.Exit(1)
		}
	}
}
