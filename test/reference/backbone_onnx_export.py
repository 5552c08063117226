"""A small torchvision ResNet-FPN exported by torch.onnx.export, for the backbone registry test.

A narrow BasicBlock ResNet (stem 8, planes 8/16/32/64, one block per layer) under a 32-channel
FPN with LastLevelMaxPool, seeded, with randomised FrozenBatchNorm2d buffers. Writes the ONNX
bytes ('model', uint8; outputs named meta.outputs), its state dict ('state/<key>', meta.keys), an input and torchvision's
five levels for it.
"""
import io
import sys

import torch
from torch import nn
from torchvision.models import resnet
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.misc import FrozenBatchNorm2d

from tensor_archive import Archive

LEVELS = ["0", "1", "2", "3", "pool"]
# torch.onnx.export refuses numeric value names, so the ONNX outputs are named otherwise
OUTPUTS = ["feat0", "feat1", "feat2", "feat3", "pool"]


def tiny_backbone():
    body = resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1], norm_layer=FrozenBatchNorm2d)
    body.inplanes = 8
    body.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
    body.bn1 = FrozenBatchNorm2d(8)
    body.layer1 = body._make_layer(resnet.BasicBlock, 8, 1)
    body.layer2 = body._make_layer(resnet.BasicBlock, 16, 1, stride=2)
    body.layer3 = body._make_layer(resnet.BasicBlock, 32, 1, stride=2)
    body.layer4 = body._make_layer(resnet.BasicBlock, 64, 1, stride=2)
    return BackboneWithFPN(body, {f"layer{i}": str(i - 1) for i in range(1, 5)}, [8, 16, 32, 64], 32)


class Levels(nn.Module):
    """The backbone with its OrderedDict output as a tuple, for torch.onnx.export."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, images):
        out = self.backbone(images)
        return tuple(out[k] for k in LEVELS)


def main(out):
    torch.manual_seed(7)
    model = tiny_backbone()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FrozenBatchNorm2d):
                n = m.weight.numel()
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(
        Levels(model), torch.randn(1, 3, 64, 64), buf, opset_version=17, input_names=["images"], output_names=OUTPUTS,
        dynamic_axes={"images": {0: "N", 2: "H", 3: "W"}, **{k: {0: "N", 2: f"H_{k}", 3: f"W_{k}"} for k in OUTPUTS}},
    )
    a = Archive(out)
    a.put("model", torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8))
    state = model.state_dict()
    for k, v in state.items():
        a.put(f"state/{k}", v)
    x = torch.randn(2, 3, 96, 64)
    a.put("images", x)
    with torch.no_grad():
        for k, v in model(x).items():
            a.put(f"out/{k}", v)
    a.meta = {"keys": list(state.keys()), "levels": LEVELS, "outputs": OUTPUTS, "channels": 32}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
