"""The compact Mask R-CNN of the shapes model: a narrow BasicBlock ResNet in torchvision's layout
(so its state dict reads `backbone.body.layer1.0.conv1.weight` ...), FPN, narrow heads."""
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import BasicBlock
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


class NarrowResNet(nn.Module):
    """torchvision's ResNet (v1.5) with free stage widths; children named and ordered as in
    torchvision.models.resnet.ResNet so IntermediateLayerGetter and the converter read it."""

    def __init__(self, widths, layers, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = widths[0]
        for i, (planes, blocks) in enumerate(zip(widths, layers)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), norm_layer(planes))
            mods = [BasicBlock(inplanes, planes, stride, downsample, norm_layer=norm_layer)]
            mods += [BasicBlock(planes, planes, norm_layer=norm_layer) for _ in range(1, blocks)]
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*mods))
            inplanes = planes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')


def build_model(num_classes, widths=(32, 64, 128, 256), layers=(1, 1, 1, 1), fpn_channels=64, representation=256,
                mask_channels=64, min_size=256, max_size=256):
    body = NarrowResNet(widths, layers)
    backbone = BackboneWithFPN(body, {'layer1': '0', 'layer2': '1', 'layer3': '2', 'layer4': '3'}, list(widths),
                               fpn_channels, extra_blocks=LastLevelMaxPool())
    return MaskRCNN(
        backbone, num_classes=None, min_size=min_size, max_size=max_size,
        rpn_batch_size_per_image=128, rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        box_batch_size_per_image=64,
        box_head=TwoMLPHead(fpn_channels * 7 * 7, representation),
        box_predictor=FastRCNNPredictor(representation, num_classes),
        mask_head=MaskRCNNHeads(fpn_channels, (mask_channels,) * 4, 1),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, num_classes),
    )


def frozen_state_dict(model):
    """The state dict in FrozenBatchNorm2d layout (weight, bias, running_mean, running_var per BN):
    BatchNorm2d's num_batches_tracked is dropped."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
