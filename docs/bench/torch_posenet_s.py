# The PyTorch side of `posetrain bench`, for comparing on the same machine:
# posenet-s (../../../shared/specs/posenet-s.md, 2,309,105 parameters at 17 joints) at
# batch 32, 128x96, random data. Prints one JSON line with the keys of `posetrain bench`
# (fwd_img_s, sgd_img_s, bsam_img_s, peak_rss_mb) plus sam_img_s and the train-mode forward.
#
#   apt-get install -y python3-torch        # Debian's PyTorch 1.13 (CPU, oneDNN AVX2)
#   /usr/bin/python3 docs/bench/torch_posenet_s.py [threads] [steps] [--preset resnet50 --input 256x192 --batch 8] [--optim sgd|all]
#
# --preset resnet50 is our SimpleBaseline ResNet-50 (pose/net.go resNet): torchvision's v1.5
# Bottleneck backbone (7x7 stem, 3x3 max pool, 3-4-6-3 blocks, 1x1 conv + BN downsample) and
# the same head as ours: three times nearest upsample x2 + conv3x3(->256, no bias) + BN + ReLU,
# then the 1x1 output conv with bias (written out here, so torchvision is not needed).
# --optim sgd times only the forward and the SGD step (what the issue compares for resnet50).
#
# threads 0 (default) keeps PyTorch's default, which is 1 thread for Debian's build.
# "forward" is eval mode under no_grad (posetrain bench times the eval graph too). A BSAM
# step is the three forward-backward passes of the official bsam.py (g at w, g_max at
# w + rho_max g/|g|, g_min at w - rho_min g/|g|) and the combined gradient, as in optim.BSAM.
import resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

import argparse
ap = argparse.ArgumentParser()
ap.add_argument("threads", nargs="?", type=int, default=0)
ap.add_argument("steps", nargs="?", type=int, default=5)
ap.add_argument("--preset", default="posenet-s", choices=["posenet-s", "resnet50"])
ap.add_argument("--input", default="")
ap.add_argument("--batch", type=int, default=0)
ap.add_argument("--optim", default="all", choices=["all", "sgd"])
args = ap.parse_args()
threads, steps = args.threads, args.steps
if threads > 0:
    torch.set_num_threads(threads)

def cbr(i, o, s=1):
    return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, 1, 1, bias=False); self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False); self.b2 = nn.BatchNorm2d(c)
    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)), inplace=True)
        return F.relu(x + self.b2(self.c2(y)), inplace=True)

class PoseNetS(nn.Module):
    def __init__(self, k=17):
        super().__init__()
        self.body = nn.Sequential(*cbr(3, 32, 2), *cbr(32, 64, 2), Block(64), *cbr(64, 128, 2), Block(128),
                                  *cbr(128, 256, 2), Block(256))
        self.head = nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'), *cbr(256, 128),
                                  nn.Upsample(scale_factor=2, mode='nearest'), *cbr(128, 64),
                                  nn.Conv2d(64, k, 1))
    def forward(self, x):
        return self.head(self.body(x))

class Bottleneck(nn.Module):
    # torchvision v1.5: the stride is on the 3x3 conv
    def __init__(self, i, planes, stride):
        super().__init__()
        o = planes * 4
        self.c1 = nn.Conv2d(i, planes, 1, bias=False); self.b1 = nn.BatchNorm2d(planes)
        self.c2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False); self.b2 = nn.BatchNorm2d(planes)
        self.c3 = nn.Conv2d(planes, o, 1, bias=False); self.b3 = nn.BatchNorm2d(o)
        self.down = None
        if stride != 1 or i != o:
            self.down = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))
    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)), inplace=True)
        y = F.relu(self.b2(self.c2(y)), inplace=True)
        y = self.b3(self.c3(y))
        return F.relu(y + (x if self.down is None else self.down(x)), inplace=True)

class ResNet50Pose(nn.Module):
    def __init__(self, k=17):
        super().__init__()
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, 2, 1)]
        i = 64
        for s, nb in enumerate([3, 4, 6, 3]):
            planes = 64 << s
            for j in range(nb):
                layers.append(Bottleneck(i, planes, 2 if j == 0 and s > 0 else 1))
                i = planes * 4
        head = []
        for _ in range(3):
            head += [nn.Upsample(scale_factor=2, mode='nearest'), *cbr(i, 256)]
            i = 256
        head.append(nn.Conv2d(256, k, 1))
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(*head)
    def forward(self, x):
        return self.head(self.body(x))

torch.manual_seed(1)
if args.preset == "resnet50":
    B, H, W = 8, 256, 192
    net = ResNet50Pose()
else:
    B, H, W = 32, 128, 96
    net = PoseNetS()
if args.batch > 0:
    B = args.batch
if args.input:
    H, W = (int(v) for v in args.input.lower().split("x"))
nparams = sum(p.numel() for p in net.parameters())
x = torch.randn(B, 3, H, W)
t = torch.rand(B, 17, H // 4, W // 4) * 0.1
params = [p for p in net.parameters()]
opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9)

def lossgrad():
    opt.zero_grad(set_to_none=False)
    loss = F.mse_loss(net(x), t)
    loss.backward()
    return loss

def gnorm():
    return torch.norm(torch.stack([p.grad.norm(2) for p in params]), 2)

def sgd():
    lossgrad(); opt.step()

def sam(rho=0.05):
    lossgrad()
    s = rho / (gnorm() + 1e-12)
    es = []
    with torch.no_grad():
        for p in params:
            e = p.grad * s; p.add_(e); es.append(e)
    lossgrad()
    with torch.no_grad():
        for p, e in zip(params, es): p.sub_(e)
    opt.step()

def bsam(rmax=0.05, rmin=0.05):
    # the three passes of the official bsam.py: g at w, g_max at w + e, g_min at w - e_min
    lossgrad()
    with torch.no_grad():
        n = gnorm() + 1e-12
        g = [p.grad.clone() for p in params]
        emax = [p.grad * (rmax / n) for p in params]
        emin = [p.grad * (rmin / n) for p in params]
        for p, e in zip(params, emax): p.add_(e)
    lossgrad()
    with torch.no_grad():
        gmax = [p.grad.clone() for p in params]
        nmax = gnorm()
        for p, e1, e2 in zip(params, emax, emin): p.sub_(e1 + e2)
    lossgrad()
    with torch.no_grad():
        nmin = gnorm() + 1e-12
        r = nmax / nmin
        for p, gg, gm in zip(params, g, gmax):
            p.grad.copy_(gm + gg - r * p.grad)
    opt.step()

def timeit(name, f):
    f()
    t0 = time.perf_counter(); c0 = time.process_time()
    for _ in range(steps): f()
    dt = time.perf_counter() - t0; cpu = time.process_time() - c0
    ips = steps * B / dt
    print(f"{name:10s} {ips:7.1f} img/s  (cpu {cpu/dt:.2f} cores)", file=sys.stderr)
    return ips

res = {"framework": "pytorch " + torch.__version__, "threads": torch.get_num_threads(), "params": nparams,
       "preset": args.preset, "batch": B, "input_h": H, "input_w": W, "steps": steps}
net.eval()
with torch.no_grad():
    res["fwd_img_s"] = timeit("fwd eval", lambda: net(x))
net.train()
with torch.no_grad():
    res["fwd_train_img_s"] = timeit("fwd train", lambda: net(x))
res["sgd_img_s"] = timeit("sgd", sgd)
if args.optim == "all":
    res["sam_img_s"] = timeit("sam", sam)
    res["bsam_img_s"] = timeit("bsam", bsam)
res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import json; print(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in res.items()}))
