package compare

import (
	"bufio"
	"os"
	"runtime"
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
