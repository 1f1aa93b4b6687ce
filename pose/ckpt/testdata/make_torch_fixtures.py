# Writes the few-KB PyTorch fixtures of the pretrained-weights reader,
# made once with Debian's python3-torch (1.13):
#   /usr/bin/python3 make_torch_fixtures.py
# tiny_zip.pth (torch.save's zip format), tiny_legacy.pth (the legacy
# format, _use_new_zipfile_serialization=False) and tiny_expected.json
# (each tensor's shape, dtype and values, flattened row-major).
# The tensors cover what a reader can get wrong: a transposed view (non-
# contiguous strides), a slice with a storage offset sharing its storage
# with another tensor, float16, bfloat16, float64, an int64 counter, and
# a wrapping {"state_dict": ...} with a "module." prefix.
import collections
import json

import torch

base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8 - 1
big = torch.arange(10, dtype=torch.float32) * 0.5
sd = collections.OrderedDict()
sd["module.conv1.weight"] = base
sd["module.layer1.0.conv1.weight"] = (torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2).t()  # 3x2, stride (1, 3)
sd["module.bn1.running_mean"] = big
sd["module.bn1.running_var"] = big[4:8]  # storage offset 4
sd["module.bn1.weight"] = (torch.arange(4) * 0.25 - 0.5).half()
sd["module.bn1.bias"] = (torch.arange(4) * 0.125 + 1).bfloat16()
sd["module.fc.weight"] = torch.arange(6, dtype=torch.float64).reshape(3, 2) / 3
sd["module.bn1.num_batches_tracked"] = torch.tensor(7)
assert not sd["module.layer1.0.conv1.weight"].is_contiguous()
assert sd["module.bn1.running_var"].storage_offset() == 4

ck = {"state_dict": sd, "epoch": 3}
torch.save(ck, "tiny_zip.pth")
torch.save(ck, "tiny_legacy.pth", _use_new_zipfile_serialization=False)
exp = {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
           "values": v.double().flatten().tolist()} for k, v in sd.items()}
with open("tiny_expected.json", "w") as f:
    json.dump(exp, f, indent=1)
    f.write("\n")
