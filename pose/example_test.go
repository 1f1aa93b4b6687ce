package pose_test

import (
	"fmt"
	"log"

	"github.com/bsampose/bsampose/pose"
)

func ExampleNew() {
	h, w := pose.DefaultInput("posenet-s")
	net, err := pose.New(pose.Config{Preset: "posenet-s", InputH: h, InputW: w, Joints: 17}, 1, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	k, oh, ow := net.OutputShape()
	fmt.Println("heatmaps:", k, oh, ow)
	fmt.Println("parameters:", net.NumParams())
	ps := net.Params()
	fmt.Println("first:", ps[0].Name, ps[0].Shape)
	fmt.Println("last:", ps[len(ps)-1].Name, ps[len(ps)-1].Shape)
	fmt.Println("buffers:", len(net.Buffers()), net.Buffers()[0].Name)

	x := make([]float32, 3*h*w) // one normalised image, NCHW
	hm, err := net.Forward(x, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("output values:", len(hm))
	// Output:
	// heatmaps: 17 32 24
	// parameters: 2309105
	// first: stem.conv.weight [32 3 3 3]
	// last: head.final.bias [17]
	// buffers: 24 stem.bn.running_mean
	// output values: 13056
}
