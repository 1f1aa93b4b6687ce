package compare

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/bsampose/bsampose/pose/kern"
)

// Machine describes where a run trained.
type Machine struct {
	CPU    string `json:"cpu"`     // model name from /proc/cpuinfo ("" when unreadable)
	ISA    string `json:"isa"`     // the SGEMM path pose/kern dispatched to: avx512, avx2 or generic (kern.Path)
	AVX512 bool   `json:"avx512f"` // the CPU has AVX-512F
	NumCPU int    `json:"num_cpu"`
	GOARCH string `json:"goarch"`
	Go     string `json:"go"`
	// Revision is the commit the binary was built from (Go's vcs.revision,
	// with "+dirty" for uncommitted changes); "" when the build carries
	// none (go run, a build outside the repository).
	Revision string `json:"revision,omitempty"`
}

// Session is one stretch of training of a run (a resumed run has several).
type Session struct {
	Machine
	Started     string  `json:"started"` // RFC 3339, UTC
	WallSeconds float64 `json:"wall_seconds"`
	Resumed     bool    `json:"resumed"`
}

// ThisMachine returns the description of the machine running it, with the
// kernel path pose/kern chose at start.
func ThisMachine() Machine {
	m := Machine{ISA: kern.Path(), NumCPU: runtime.NumCPU(), GOARCH: runtime.GOARCH, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Revision = revision(bi.Settings)
	}
	if runtime.GOARCH == "amd64" {
		m.AVX512 = cpu.X86.HasAVX512F
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// revision returns the vcs.revision build setting, "+dirty" appended
// when vcs.modified is true.
func revision(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}
