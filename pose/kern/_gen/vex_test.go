package main

import "testing"

func TestVexOnly(t *testing.T) {
	files := generate()
	for _, name := range avx2Files {
		if bad := vexOnly(files[name]); len(bad) > 0 {
			t.Errorf("%s: %q", name, bad)
		}
	}
	for _, name := range []string{"gemm_avx512_amd64.s", "winograd_avx512_amd64.s"} {
		if len(vexOnly(files[name])) == 0 {
			t.Errorf("vexOnly passes %s", name)
		}
	}
	for _, line := range []string{"\tVMOVUPS Y16, (DI)", "\tVPXORD Y1, Y1, Y1", "\tKMOVW R9, K1", "\tVADDPS X31, X0, X0", "\tVMOVUPS Y1, K1, (DI)"} {
		if len(vexOnly(line)) != 1 {
			t.Errorf("vexOnly passes %q", line)
		}
	}
}
