package kern

import (
	"os/exec"
	"runtime"
	"testing"
)

// TestGenerated checks that the committed generated assembly and Go
// declarations are what `go generate ./pose/kern` writes, byte for byte.
func TestGenerated(t *testing.T) {
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" || testing.Short() {
		t.Skip("needs the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.Command(gobin, "run", "-C", "_gen", ".", "-check", "-out", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("generated files are stale (run go generate ./pose/kern): %v\n%s", err, out)
	}
}

func TestFMAPeak(t *testing.T) {
	for _, isa := range []string{"ymm", "zmm"} {
		if g := FMAPeak(isa, 1, 20e6); g > 0 {
			t.Logf("%s FMA peak, 1 thread: %.1f GFLOP/s", isa, g)
		}
	}
}
