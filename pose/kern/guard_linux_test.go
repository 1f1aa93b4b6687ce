//go:build linux

package kern

import (
	"os"
	"syscall"
	"unsafe"
)

// guarded returns n floats that end where a readable and writable
// mapping ends, right before an inaccessible page, so that a kernel
// reading or writing past them faults; free unmaps them.
func guarded(n int) (f []float32, free func()) {
	page := os.Getpagesize()
	size := (4*n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		panic(err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), size/4)
	return all[size/4-n:], func() {
		if err := syscall.Munmap(mem); err != nil {
			panic(err)
		}
	}
}
