package synth_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/bsampose/bsampose/synth"
)

// Generate a small held-back split and summarise it.
func ExampleGenerateSplits() {
	dir, err := os.MkdirTemp("", "synth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	train, val, err := synth.GenerateSplits(context.Background(), dir, 8, 4, 1, synth.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, sp := range []synth.Split{train, val} {
		s, err := synth.Summarize(sp.Ann)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d images, >= 1 person each: %v, persons without labels: %d, 17 joints each: %v\n",
			s.Images, s.Persons >= s.Images, s.Empty, s.Visibility[0]+s.Visibility[1]+s.Visibility[2] == 17*s.Persons)
	}
	// Output:
	// 8 images, >= 1 person each: true, persons without labels: 0, 17 joints each: true
	// 4 images, >= 1 person each: true, persons without labels: 0, 17 joints each: true
}
