package kern

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// generatedHeader is the marker of generated files
// (https://go.dev/s/generatedcode).
var generatedHeader = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

// TestGenerated checks that the committed generated assembly and Go
// declarations are what `go generate ./pose/kern` writes, byte for byte,
// and that the files marked generated in the package are exactly the
// ones the generator writes.
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
	out, err = exec.Command(gobin, "run", "-C", "_gen", ".", "-list").Output()
	if err != nil {
		t.Fatalf("_gen -list: %v", err)
	}
	written := strings.Fields(string(out))
	var marked []string
	for _, pat := range []string{"*.s", "*.go"} {
		names, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			if sc.Scan() && generatedHeader.MatchString(sc.Text()) {
				marked = append(marked, name)
			}
			f.Close()
		}
	}
	slices.Sort(marked)
	if !slices.Equal(marked, written) {
		t.Errorf("files marked generated: %q; files the generator writes: %q", marked, written)
	}
}

func TestFMAPeak(t *testing.T) {
	for _, isa := range []string{"ymm", "zmm"} {
		if g := FMAPeak(isa, 1, 20e6); g > 0 {
			t.Logf("%s FMA peak, 1 thread: %.1f GFLOP/s", isa, g)
		}
	}
}
