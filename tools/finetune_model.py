"""The model side of tools/finetune.py: reading a source detection checkpoint, building the same
architecture for a new class count, re-initialising the class-dependent predictor layers and
freezing backbone stages.

Two families are recognised from the state dict alone:
  - resdet's compact shapes model (tools/shapes_model.py: BasicBlock ResNet of free widths, FPN,
    narrow heads), e.g. the bundled model's test/fixtures/shapes/model_final.pth;
  - torchvision's ResNet-50/101/152-FPN Faster and Mask R-CNN (Bottleneck blocks, 256-channel FPN,
    torchvision's heads), e.g. a torchvision `maskrcnn_resnet50_fpn` state dict.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shapes_model import NarrowResNet  # noqa: E402

# Layers that depend on the class count: re-initialised when the classes change.
CLASS_LAYERS = ('roi_heads.box_predictor.cls_score.', 'roi_heads.box_predictor.bbox_pred.',
                'roi_heads.mask_predictor.mask_fcn_logits.')
# Backbone stages by trainable count, as torchvision's trainable_backbone_layers (5: all, 0: none).
STAGES = ('layer4', 'layer3', 'layer2', 'layer1', 'conv1')


class CheckpointError(Exception):
    """A checkpoint that cannot be read or is not a detector resdet knows; the message names the file."""


def read_state_dict(path):
    """The state dict of a checkpoint file: a bare state dict, or {'model': state dict} as last.pth."""
    if not os.path.isfile(path):
        raise CheckpointError('%s: no such file' % path)
    try:
        ck = torch.load(path, map_location='cpu')
    except Exception as e:  # noqa: BLE001 - any unreadable file is one error line
        raise CheckpointError('%s: not a torch checkpoint (%s)' % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))
    state = ck['model'] if isinstance(ck, dict) and isinstance(ck.get('model'), dict) else ck
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError('%s: not a state dict of tensors' % path)
    for key in ('backbone.body.conv1.weight', 'backbone.body.layer1.0.conv1.weight', 'rpn.head.cls_logits.weight',
                'roi_heads.box_predictor.cls_score.weight'):
        if key not in state:
            raise CheckpointError('%s: not a torchvision ResNet-FPN Faster/Mask R-CNN checkpoint (no %s)' % (path, key))
    return state


def describe(state):
    """What the state dict holds: family, stage widths and block counts, head sizes, class count."""
    layers = []
    for i in range(1, 5):
        blocks = {int(k.split('.')[3]) for k in state if k.startswith('backbone.body.layer%d.' % i)}
        layers.append(max(blocks) + 1 if blocks else 0)
    bottleneck = 'backbone.body.layer1.0.conv3.weight' in state
    last_conv = 'conv3' if bottleneck else 'conv2'
    widths = [state['backbone.body.layer%d.0.%s.weight' % (i, last_conv)].shape[0] for i in range(1, 5)]
    return {
        'family': 'torchvision' if bottleneck else 'shapes',
        'mask': 'roi_heads.mask_predictor.mask_fcn_logits.weight' in state,
        'num_classes': state['roi_heads.box_predictor.cls_score.weight'].shape[0],
        'stem': state['backbone.body.conv1.weight'].shape[0],
        'widths': widths,
        'layers': layers,
        'fpn_channels': state['backbone.fpn.inner_blocks.0.0.weight'].shape[0] if 'backbone.fpn.inner_blocks.0.0.weight' in state
        else state['backbone.fpn.inner_blocks.0.weight'].shape[0],
        'representation': state['roi_heads.box_head.fc6.weight'].shape[0],
        'mask_channels': state['roi_heads.mask_predictor.conv5_mask.weight'].shape[0] if 'roi_heads.mask_predictor.conv5_mask.weight' in state else 0,
    }


def build(desc, num_classes, min_size, max_size):
    """A randomly initialised model of the described architecture with `num_classes` outputs."""
    if desc['family'] == 'shapes':
        from torchvision.models.detection import FasterRCNN, MaskRCNN
        from torchvision.models.detection.backbone_utils import BackboneWithFPN
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
        from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
        from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
        if desc['stem'] != desc['widths'][0]:
            raise CheckpointError('a BasicBlock ResNet whose stem (%d) and layer1 (%d) widths differ is not supported'
                                  % (desc['stem'], desc['widths'][0]))
        body = NarrowResNet(desc['widths'], desc['layers'])
        f = desc['fpn_channels']
        backbone = BackboneWithFPN(body, {'layer1': '0', 'layer2': '1', 'layer3': '2', 'layer4': '3'}, list(desc['widths']),
                                   f, extra_blocks=LastLevelMaxPool())
        common = dict(min_size=min_size, max_size=max_size, rpn_batch_size_per_image=128, rpn_pre_nms_top_n_train=600,
                      rpn_post_nms_top_n_train=300, box_batch_size_per_image=64,
                      box_head=TwoMLPHead(f * 7 * 7, desc['representation']),
                      box_predictor=FastRCNNPredictor(desc['representation'], num_classes))
        if not desc['mask']:
            return FasterRCNN(backbone, num_classes=None, **common)
        m = desc['mask_channels']
        return MaskRCNN(backbone, num_classes=None, mask_head=MaskRCNNHeads(f, (m,) * 4, 1),
                        mask_predictor=MaskRCNNPredictor(m, m, num_classes), **common)
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    names = {(3, 4, 6, 3): 'resnet50', (3, 4, 23, 3): 'resnet101', (3, 8, 36, 3): 'resnet152'}
    name = names.get(tuple(desc['layers']))
    if name is None:
        raise CheckpointError('a Bottleneck ResNet with %s blocks per stage is not a torchvision ResNet-50/101/152' % (desc['layers'],))
    backbone = resnet_fpn_backbone(backbone_name=name, weights=None, trainable_layers=5)
    cls = MaskRCNN if desc['mask'] else FasterRCNN
    return cls(backbone, num_classes=num_classes, min_size=min_size, max_size=max_size)


def load_source(model, state, path):
    """Loads every weight of `state` except the class-dependent layers; returns the re-initialised keys."""
    keep = {k: v for k, v in state.items() if not k.startswith(CLASS_LAYERS)}
    missing, unexpected = model.load_state_dict(keep, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked') and not k.startswith(CLASS_LAYERS)]
    if missing or unexpected:
        raise CheckpointError('%s: does not fit the architecture read from it (missing %s, unexpected %s)'
                              % (path, missing[:3], unexpected[:3]))
    return sorted(k for k in model.state_dict() if k.startswith(CLASS_LAYERS))


def freeze_backbone(model, trainable_layers, bn_frozen):
    """Freezes the backbone stages beyond the `trainable_layers` last (torchvision's rule: 5 trains
    conv1 and bn1 too). With `bn_frozen` every backbone BatchNorm keeps its statistics and affine
    weights (as torchvision's FrozenBatchNorm2d); returns the trainable parameter count."""
    if not 0 <= trainable_layers <= 5:
        raise ValueError('--trainable-layers must be in 0..5, got %d' % trainable_layers)
    train = list(STAGES[:trainable_layers]) + (['bn1'] if trainable_layers == 5 else [])
    for name, p in model.backbone.body.named_parameters():
        if not any(name.startswith(s) for s in train):
            p.requires_grad_(False)
    if bn_frozen:
        for mod in model.backbone.body.modules():
            if isinstance(mod, nn.BatchNorm2d):
                for p in mod.parameters():
                    p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def set_train_mode(model, bn_frozen):
    """model.train(), with the backbone's BatchNorm layers left in eval mode when frozen."""
    model.train()
    if bn_frozen:
        for mod in model.backbone.body.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eval()
