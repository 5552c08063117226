"""torchvision 0.14 ResNet-FPN detection backbones with seeded random weights (test/backbones).

Usage: backbone_cases.py OUT CASE. Writes the backbone's state dict (under the key layout the case
names: with or without the detection model's 'backbone.' prefix, new or pre-0.13 FPN names), the
input images and every FPN level ('0'..'3', 'pool') torchvision computes from them.

Every FrozenBatchNorm2d buffer is randomised (weight, bias, running mean and variance, a few
variances near eps: see randomise) so that folding and its eps are exercised; FPN biases too.
"""
import sys

import torch
from torch import nn
from torchvision.models import resnet
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d

from tensor_archive import Archive

SMALL = [(1, 64, 96), (1, 96, 64)]
BIG = [(1, 64, 64)]

# name: builder (None = the narrow custom network), eps, input shapes, key prefix, old FPN names
CASES = {
    "resnet18": ("resnet18", 1e-5, SMALL, "backbone.", False),
    "resnet34": ("resnet34", 1e-5, SMALL, "", True),
    "resnet50": ("resnet50", 0.0, SMALL, "backbone.", False),
    "resnet101": ("resnet101", 1e-5, BIG, "backbone.", False),
    "resnet152": ("resnet152", 1e-5, BIG, "backbone.", True),
    "resnext50_32x4d": ("resnext50_32x4d", 1e-5, BIG, "backbone.", False),
    "resnext101_32x8d": ("resnext101_32x8d", 0.0, BIG, "", False),
    "wide_resnet50_2": ("wide_resnet50_2", 1e-5, BIG, "backbone.", False),
    "wide_resnet101_2": ("wide_resnet101_2", 1e-5, BIG, "backbone.", False),
    "narrow": (None, 1e-5, [(2, 64, 96), (1, 96, 64)], "backbone.", False),
}


def narrow_backbone():
    """A custom Bottleneck ResNet: stem 16, planes 16/32/64/128, blocks [2,1,1,1], groups 2,
    width_per_group 32, under a 64-channel FPN."""
    body = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], norm_layer=FrozenBatchNorm2d, groups=2, width_per_group=32)
    body.inplanes = 16
    body.conv1 = nn.Conv2d(3, 16, kernel_size=7, stride=2, padding=3, bias=False)
    body.bn1 = FrozenBatchNorm2d(16)
    body.layer1 = body._make_layer(resnet.Bottleneck, 16, 2)
    body.layer2 = body._make_layer(resnet.Bottleneck, 32, 1, stride=2)
    body.layer3 = body._make_layer(resnet.Bottleneck, 64, 1, stride=2)
    body.layer4 = body._make_layer(resnet.Bottleneck, 128, 1, stride=2)
    return_layers = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}
    return BackboneWithFPN(body, return_layers, [64, 128, 256, 512], 64)


def randomise(model, eps):
    """Sets every FrozenBatchNorm2d as a trained network's would be: running statistics measured on
    the activations it sees (here, of a random image) then perturbed, random affine weight and bias.
    One channel in 16 gets a running variance of 1e-5 with its weight scaled to keep its output
    scale, so that eps 0 and eps 1e-5 give visibly different features there."""
    def calibrate(m, inputs):
        (x,) = inputs
        n = x.shape[1]
        mean = x.mean((0, 2, 3))
        var = x.var((0, 2, 3), unbiased=False).clamp_min(1e-4)
        m.eps = eps  # as torchvision's overwrite_eps does for the COCO_V1 weights
        rv = var * torch.empty(n).uniform_(0.7, 1.4)
        w = torch.empty(n).uniform_(0.5, 1.5)
        tiny = torch.randperm(n)[: max(1, n // 16)]
        rv[tiny] = 1e-5
        w[tiny] *= ((1e-5 + eps) / var[tiny]).sqrt()
        m.running_mean.copy_(mean + 0.1 * var.sqrt() * torch.randn(n))
        m.running_var.copy_(rv)
        m.weight.copy_(w)
        m.bias.normal_(0.0, 0.2)

    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, FrozenBatchNorm2d)]
    model(torch.randn(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    for name, p in model.named_parameters():
        if name.startswith("fpn.") and name.endswith(".bias"):
            p.data.normal_(0.0, 0.1)


def description(model):
    body = model.body
    bottleneck = isinstance(body.layer1[0], resnet.Bottleneck)
    layers = [len(getattr(body, f"layer{i}")) for i in range(1, 5)]
    conv2 = body.layer1[0].conv2
    planes = (body.layer1[-1].conv3 if bottleneck else body.layer1[-1].conv2).out_channels // (4 if bottleneck else 1)
    return {
        "block": "Bottleneck" if bottleneck else "BasicBlock",
        "layers": layers,
        "depth": 2 + sum(layers) * (3 if bottleneck else 2),
        "groups": conv2.groups,
        "widthPerGroup": conv2.out_channels // conv2.groups * 64 // planes if bottleneck else 64,
    }


def state_dict_keys(model, prefix, old_fpn):
    out = {}
    for k, v in model.state_dict().items():
        parts = k.split(".")
        if old_fpn and parts[0] == "fpn" and len(parts) == 5:
            # pre-0.13 names: fpn.inner_blocks.0.0.weight -> fpn.inner_blocks.0.weight
            k = ".".join(parts[:3] + parts[4:])
        out[prefix + k] = v
    return out


def main(out, case):
    builder, eps, shapes, prefix, old_fpn = CASES[case]
    torch.manual_seed(sum(map(ord, case)))
    model = narrow_backbone() if builder is None else resnet_fpn_backbone(backbone_name=builder, weights=None, trainable_layers=5)
    with torch.no_grad():
        randomise(model, eps)
    model.eval()
    a = Archive(out)
    state = state_dict_keys(model, prefix, old_fpn)
    for k, v in state.items():
        a.put(f"state/{k}", v)
    names = []
    with torch.no_grad():
        for n, h, w in shapes:
            name = f"{n}x3x{h}x{w}"
            names.append(name)
            x = torch.randn(n, 3, h, w)
            a.put(f"{name}/images", x)
            for level, y in model(x).items():
                a.put(f"{name}/{level}", y)
    a.meta = {
        "case": case, "arch": builder or "custom", "eps": eps, "inputs": names, "keys": list(state.keys()),
        "description": description(model), "fpnChannels": model.out_channels,
    }
    a.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
