package arch

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Preset names.
const (
	PoseNetS = "posenet-s"
	ResNet18 = "resnet18"
	ResNet50 = "resnet50"
)

// BNEps is the batch-norm epsilon of every preset (PyTorch's default).
const BNEps = 1e-5

// preset is one entry of the preset table: its description and the input
// size (height, width) it is designed for.
type preset struct {
	describe     func(b *builder, x int) int
	defH, defW   int
	pretrainable bool // the backbone is torchvision's (--pretrained)
}

var presets = map[string]preset{
	PoseNetS: {describe: poseNetS, defH: 128, defW: 96},
	ResNet18: {describe: func(b *builder, x int) int { return resNet(b, x, []int{2, 2, 2, 2}, false) }, defH: 256, defW: 192, pretrainable: true},
	ResNet50: {describe: func(b *builder, x int) int { return resNet(b, x, []int{3, 4, 6, 3}, true) }, defH: 256, defW: 192, pretrainable: true},
}

// Presets returns the preset names in a stable order.
func Presets() []string { return []string{PoseNetS, ResNet18, ResNet50} }

// Known reports whether name is a preset.
func Known(name string) bool { _, ok := presets[name]; return ok }

// DefaultInput returns the input size (height, width) a preset is designed
// for, or (0, 0) for an unknown preset.
func DefaultInput(name string) (h, w int) {
	p := presets[name]
	return p.defH, p.defW
}

// Pretrainable reports whether the preset's backbone is a torchvision
// ResNet whose ImageNet weights can be loaded (Node.Torch names them).
func Pretrainable(name string) bool { return presets[name].pretrainable }

// Op is the kind of a node.
type Op uint8

const (
	Input     Op = iota // the normalised image, 3 x InputH x InputW
	Conv                // K x K convolution, Stride, Pad; bias-free unless Bias
	BatchNorm           // per channel: (x - running_mean) / sqrt(running_var + BNEps) * weight + bias
	ReLU                // max(x, 0)
	Add                 // In[0] + In[1] (the residual join)
	MaxPool             // 3x3, stride 2, padding 1 (padding never wins)
	Upsample            // nearest neighbour, x2
)

var opNames = [...]string{"input", "conv", "batchnorm", "relu", "add", "maxpool", "upsample"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Node is one layer of a network description.
type Node struct {
	Op   Op
	Name string // tensor prefix of a Conv or BatchNorm (e.g. "layer1.0.conv1"), a label otherwise
	In   []int  // input node indices, all smaller than this node's
	// C, H, W is the output shape per image.
	C, H, W int
	// Conv only.
	K, Stride, Pad int
	Bias           bool
	// InitStd is the standard deviation of a Conv's normal initialisation:
	// 0 means Kaiming normal (fan_out, ReLU gain, as torchvision).
	InitStd float64
	// Torch is the torchvision ResNet module name of a Conv, BatchNorm or
	// MaxPool of a pretrainable backbone ("conv1", "layer1.0.bn2",
	// "maxpool"), "" elsewhere.
	Torch string
}

// Net is a network description: nodes in topological order, Nodes[0] the
// Input, the last node the K x InputH/4 x InputW/4 heatmaps.
type Net struct {
	Preset         string
	InputH, InputW int
	Joints         int
	Nodes          []Node
	users          [][]int
}

// Tensor names one tensor of a description.
type Tensor struct {
	Name      string
	Shape     []int
	Trainable bool   // a parameter (else a batch-norm running statistic)
	Node      int    // index of the node that owns it
	Torch     string // torchvision name for pretrainable backbones, "" elsewhere
}

// maxInput bounds the input size, so a corrupt file cannot ask for absurd
// activation buffers.
const maxInput = 4096

// ErrUnknownPreset is wrapped by New for an unknown preset name.
var ErrUnknownPreset = errors.New("arch: unknown preset")

// New describes preset for an input of inputH x inputW pixels (positive
// multiples of 32, at most 4096) and joints output heatmaps.
func New(name string, inputH, inputW, joints int) (*Net, error) {
	p, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (want one of %v)", ErrUnknownPreset, name, Presets())
	}
	if inputH <= 0 || inputW <= 0 || inputH%32 != 0 || inputW%32 != 0 || inputH > maxInput || inputW > maxInput {
		return nil, fmt.Errorf("arch: input %dx%d (h x w): height and width must be positive multiples of 32 up to %d", inputH, inputW, maxInput)
	}
	if joints <= 0 || joints > 1024 {
		return nil, fmt.Errorf("arch: %d joints: want 1 to 1024", joints)
	}
	g := &Net{Preset: name, InputH: inputH, InputW: inputW, Joints: joints}
	b := &builder{g: g}
	x := b.add(Node{Op: Input, Name: "input", C: 3, H: inputH, W: inputW})
	out := p.describe(b, x)
	o := g.Nodes[out]
	if out != len(g.Nodes)-1 || o.C != joints || o.H != inputH/4 || o.W != inputW/4 {
		return nil, fmt.Errorf("arch: %s output %dx%dx%d, want %dx%dx%d", name, o.C, o.H, o.W, joints, inputH/4, inputW/4)
	}
	g.users = make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, in := range n.In {
			g.users[in] = append(g.users[in], i)
		}
	}
	return g, nil
}

// Users returns the indices of the nodes that read node i's output.
func (g *Net) Users(i int) []int { return g.users[i] }

// Only returns the single user of node i if it has exactly one and its op
// is op, else -1. Back-ends use it to fuse chains such as Conv ->
// BatchNorm -> ReLU.
func (g *Net) Only(i int, op Op) int {
	if u := g.users[i]; len(u) == 1 && g.Nodes[u[0]].Op == op {
		return u[0]
	}
	return -1
}

// InC returns the input channels of node i (the channels of its first input).
func (g *Net) InC(i int) int { return g.Nodes[g.Nodes[i].In[0]].C }

// NodeTensors returns the tensors of node i in creation order: a Conv's
// weight (OIHW) then bias, a BatchNorm's weight, bias, running_mean and
// running_var; none for other ops.
func (g *Net) NodeTensors(i int) []Tensor {
	n := g.Nodes[i]
	t := func(suffix string, train bool, shape ...int) Tensor {
		tn := ""
		if n.Torch != "" {
			tn = n.Torch + suffix
		}
		return Tensor{Name: n.Name + suffix, Shape: shape, Trainable: train, Node: i, Torch: tn}
	}
	switch n.Op {
	case Conv:
		ts := []Tensor{t(".weight", true, n.C, g.InC(i), n.K, n.K)}
		if n.Bias {
			ts = append(ts, t(".bias", true, n.C))
		}
		return ts
	case BatchNorm:
		return []Tensor{t(".weight", true, n.C), t(".bias", true, n.C),
			t(".running_mean", false, n.C), t(".running_var", false, n.C)}
	}
	return nil
}

// Tensors returns every tensor of the network in creation order (the
// order of the nodes).
func (g *Net) Tensors() []Tensor {
	var ts []Tensor
	for i := range g.Nodes {
		ts = append(ts, g.NodeTensors(i)...)
	}
	return ts
}

// String lists the nodes, one a line: index, op, name, inputs and shape.
func (g *Net) String() string {
	var sb strings.Builder
	for i, n := range g.Nodes {
		fmt.Fprintf(&sb, "%3d %-9s %-24s in=%v out=%dx%dx%d", i, n.Op, n.Name, n.In, n.C, n.H, n.W)
		if n.Op == Conv {
			fmt.Fprintf(&sb, " k=%d s=%d p=%d bias=%v", n.K, n.Stride, n.Pad, n.Bias)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Fold folds a batch norm into the convolution before it, in float64:
// w' = w*s, b' = beta + (b - mean)*s with s = gamma/sqrt(var + BNEps).
// w: OutC*InC*KH*KW (OIHW); bias: OutC or nil (a bias-free conv); gamma,
// beta, mean, variance: OutC each. It returns new slices.
//
// It panics if the lengths disagree.
func Fold(w, bias, gamma, beta, mean, variance []float32) (fw, fb []float32) {
	outC := len(gamma)
	if outC == 0 || len(w)%outC != 0 || len(beta) != outC || len(mean) != outC || len(variance) != outC || (bias != nil && len(bias) != outC) {
		panic("arch: Fold: length mismatch")
	}
	kk := len(w) / outC
	fw, fb = make([]float32, len(w)), make([]float32, outC)
	for o := range outC {
		sc := float64(gamma[o]) / math.Sqrt(float64(variance[o])+BNEps)
		b0 := 0.0
		if bias != nil {
			b0 = float64(bias[o])
		}
		fb[o] = float32(float64(beta[o]) + (b0-float64(mean[o]))*sc)
		for j := o * kk; j < (o+1)*kk; j++ {
			fw[j] = float32(float64(w[j]) * sc)
		}
	}
	return fw, fb
}

// builder appends nodes to a description.
type builder struct{ g *Net }

func (b *builder) add(n Node) int {
	b.g.Nodes = append(b.g.Nodes, n)
	return len(b.g.Nodes) - 1
}

func (b *builder) node(i int) Node { return b.g.Nodes[i] }

// conv adds a k x k convolution named name with outC channels.
func (b *builder) conv(name, torch string, x, outC, k, stride, pad int) int {
	in := b.node(x)
	oh, ow := (in.H+2*pad-k)/stride+1, (in.W+2*pad-k)/stride+1
	return b.add(Node{Op: Conv, Name: name, Torch: torch, In: []int{x}, C: outC, H: oh, W: ow, K: k, Stride: stride, Pad: pad})
}

func (b *builder) bn(name, torch string, x int) int {
	in := b.node(x)
	return b.add(Node{Op: BatchNorm, Name: name, Torch: torch, In: []int{x}, C: in.C, H: in.H, W: in.W})
}

func (b *builder) same(op Op, name string, in ...int) int {
	n := b.node(in[0])
	return b.add(Node{Op: op, Name: name, In: in, C: n.C, H: n.H, W: n.W})
}

func (b *builder) relu(name string, x int) int { return b.same(ReLU, name, x) }

// convBN is a bias-free convolution convName followed by batch norm
// bnName (and a ReLU named reluName unless it is ""). torch is the
// torchvision prefix of both ("" for none): the conv is torch+convName's
// last part, as the tensor names themselves.
func (b *builder) convBN(convName, bnName, reluName string, torch bool, x, outC, k, stride, pad int) int {
	tc, tb := "", ""
	if torch {
		tc, tb = torchName(convName), torchName(bnName)
	}
	y := b.bn(bnName, tb, b.conv(convName, tc, x, outC, k, stride, pad))
	if reluName != "" {
		y = b.relu(reluName, y)
	}
	return y
}

// torchName maps our backbone tensor prefixes to torchvision's: the stem
// is conv1/bn1, the residual stages keep their names.
func torchName(name string) string {
	switch name {
	case "stem.conv":
		return "conv1"
	case "stem.bn":
		return "bn1"
	}
	return name
}

// cbr is name.conv + name.bn + ReLU.
func (b *builder) cbr(name string, x, outC, k, stride, pad int) int {
	return b.convBN(name+".conv", name+".bn", name+".relu", false, x, outC, k, stride, pad)
}

func (b *builder) up(name string, x int) int {
	n := b.node(x)
	return b.add(Node{Op: Upsample, Name: name, In: []int{x}, C: n.C, H: 2 * n.H, W: 2 * n.W})
}

func (b *builder) pool(name string, x int) int {
	n := b.node(x)
	return b.add(Node{Op: MaxPool, Name: name, In: []int{x}, C: n.C, H: (n.H-1)/2 + 1, W: (n.W-1)/2 + 1})
}

// residual is ReLU(y + shortcut), named name.add and name.relu.
func (b *builder) residual(name string, y, shortcut int) int {
	return b.relu(name+".relu", b.same(Add, name+".add", y, shortcut))
}

// basic is torchvision's BasicBlock: ReLU(x' + BN(conv3x3(ReLU(BN(conv3x3(x)))))),
// where x' is x or, when the shape changes, downsample.1(downsample.0(x))
// (1x1 conv + BN).
func basic(b *builder, name string, torch bool, x, planes, stride int) int {
	y := b.convBN(name+".conv1", name+".bn1", name+".relu1", torch, x, planes, 3, stride, 1)
	y = b.convBN(name+".conv2", name+".bn2", "", torch, y, planes, 3, 1, 1)
	id := x
	if stride != 1 || b.node(x).C != planes {
		id = b.convBN(name+".downsample.0", name+".downsample.1", "", torch, x, planes, 1, stride, 0)
	}
	return b.residual(name, y, id)
}

// bottleneck is torchvision's (v1.5) Bottleneck with expansion 4 and the
// stride on the 3x3 convolution.
func bottleneck(b *builder, name string, x, planes, stride int) int {
	y := b.convBN(name+".conv1", name+".bn1", name+".relu1", true, x, planes, 1, 1, 0)
	y = b.convBN(name+".conv2", name+".bn2", name+".relu2", true, y, planes, 3, stride, 1)
	y = b.convBN(name+".conv3", name+".bn3", "", true, y, 4*planes, 1, 1, 0)
	id := x
	if stride != 1 || b.node(x).C != 4*planes {
		id = b.convBN(name+".downsample.0", name+".downsample.1", "", true, x, 4*planes, 1, stride, 0)
	}
	return b.residual(name, y, id)
}

// final is the 1x1 output convolution with bias (head.final), initialised
// normal with std 0.001 (mmpose).
func final(b *builder, x int) int {
	n := b.node(x)
	return b.add(Node{Op: Conv, Name: "head.final", In: []int{x}, C: b.g.Joints, H: n.H, W: n.W,
		K: 1, Stride: 1, Bias: true, InitStd: 0.001})
}

// poseNetS is the posenet-s spec (specs/posenet-s.md).
func poseNetS(b *builder, x int) int {
	x = b.cbr("stem", x, 32, 3, 2, 1)
	for i, c := range []int{64, 128, 256} {
		l := fmt.Sprintf("layer%d", i+1)
		x = b.cbr(l+".0", x, c, 3, 2, 1)
		x = basic(b, l+".1", false, x, c, 1)
	}
	x = b.cbr("head.0", b.up("head.0.up", x), 128, 3, 1, 1)
	x = b.cbr("head.1", b.up("head.1.up", x), 64, 3, 1, 1)
	return final(b, x)
}

// resNet is a torchvision ResNet backbone (blocks per stage, Basic or
// Bottleneck) with the SimpleBaseline-style head: three times nearest
// upsample x2 + conv3x3(->256) + BN + ReLU, then the 1x1 output conv.
func resNet(b *builder, x int, blocks []int, bneck bool) int {
	x = b.convBN("stem.conv", "stem.bn", "stem.relu", true, x, 64, 7, 2, 3)
	x = b.pool("stem.maxpool", x)
	b.g.Nodes[x].Torch = "maxpool"
	for i, nb := range blocks {
		planes := 64 << i
		for j := range nb {
			stride := 1
			if j == 0 && i > 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", i+1, j)
			if bneck {
				x = bottleneck(b, name, x, planes, stride)
			} else {
				x = basic(b, name, true, x, planes, stride)
			}
		}
	}
	for i := range 3 {
		name := fmt.Sprintf("head.%d", i)
		x = b.cbr(name, b.up(name+".up", x), 256, 3, 1, 1)
	}
	return final(b, x)
}
