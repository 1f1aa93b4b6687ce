# Writes the state_dict names, shapes and dtypes of torchvision's
# resnet18 and resnet50 (random init, nothing downloaded), one tensor a
# line, to torchvision_resnet18.txt and torchvision_resnet50.txt, then
# every Conv2d and MaxPool2d as "module NAME kernel stride padding" (the
# v1.5 layout puts a Bottleneck's stride on conv2, its 3x3 conv).
# Made once with Debian's python3-torchvision (0.14.1):
#   /usr/bin/python3 torchvision_names.py
import torch
import torchvision

for name in ["resnet18", "resnet50"]:
    m = getattr(torchvision.models, name)(weights=None)
    with open(f"torchvision_{name}.txt", "w") as f:
        f.write(f"# torchvision {torchvision.__version__} models.{name}(weights=None).state_dict(): name shape dtype\n")
        for k, v in m.state_dict().items():
            shape = "x".join(str(d) for d in v.shape) or "scalar"
            f.write(f"{k} {shape} {str(v.dtype).replace('torch.', '')}\n")
        for k, mod in m.named_modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.MaxPool2d)):
                ks, st, pd = (getattr(mod, a) for a in ("kernel_size", "stride", "padding"))
                ks, st, pd = (x[0] if isinstance(x, tuple) else x for x in (ks, st, pd))
                f.write(f"module {k} {ks} {st} {pd}\n")
