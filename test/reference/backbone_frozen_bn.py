"""torchvision 0.14 FrozenBatchNorm2d's folded scale and bias (test/backbones/frozenBatchNorm).

Random buffers (a quarter of the running variances near or below eps) for eps 0.0 and 1e-5, under
'case<i>/' for meta.eps[i]: the scale and shift by the exact expressions of
FrozenBatchNorm2d.forward, and the module's own forward on x = 0 (which is the shift).
"""
import sys

import torch
from torchvision.ops.misc import FrozenBatchNorm2d

from tensor_archive import Archive


def main(out):
    torch.manual_seed(3)
    n = 4096
    a = Archive(out)
    bn = FrozenBatchNorm2d(n)
    bn.weight.uniform_(-2, 2)
    bn.bias.normal_(0, 1)
    bn.running_mean.normal_(0, 3)
    rv = torch.empty(n).uniform_(0, 2)
    rv[: n // 4] = torch.empty(n // 4).uniform_(1e-7, 1e-4)
    bn.running_var.copy_(rv)
    for k in ["weight", "bias", "running_mean", "running_var"]:
        a.put(k, getattr(bn, k))
    for i, eps in enumerate([0.0, 1e-5]):
        bn.eps = eps
        w, b, rv, rm = bn.weight, bn.bias, bn.running_var, bn.running_mean
        scale = w * (rv + bn.eps).rsqrt()  # FrozenBatchNorm2d.forward's expression
        a.put(f"case{i}/scale", scale)
        a.put(f"case{i}/shift", b - rm * scale)
        # and the module itself on x = 0 (its output is the shift)
        a.put(f"case{i}/forward0", bn(torch.zeros(1, n, 1, 1)).flatten())
    a.meta = {"eps": [0.0, 1e-5]}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
