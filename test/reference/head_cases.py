"""torchvision 0.14 RPN head, box head and mask head outputs with seeded random weights (test/heads).

Writes the heads' state dict (keys `sd/<name>`), random pyramid features and pooled RoIs, and
torchvision's outputs in anchor order (concat_box_prediction_layers) / as maskrcnn_inference selects.
"""
import sys

import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import concat_box_prediction_layers

from tensor_archive import Archive

NUM_CLASSES = 7


def main(out):
    torch.manual_seed(3)
    a = Archive(out)
    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=NUM_CLASSES).eval()
    # Spread the weights so outputs are not near-constant (the default init is tiny for the RPN).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("rpn.", "roi_heads.")):
                p.copy_(torch.randn_like(p) * (2.0 / p[0].numel()) ** 0.5)
    for name, t in model.state_dict().items():
        if name.startswith(("rpn.", "roi_heads.")):
            a.put(f"sd/{name}", t)

    with torch.no_grad():
        sizes = [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]
        feats = [torch.randn(2, 256, h, w) for h, w in sizes]
        for name, f in zip(["0", "1", "2", "3", "pool"], feats):
            a.put(f"features/{name}", f)
        objectness, deltas = model.rpn.head(feats)
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        a.put("rpn/objectness", objectness.reshape(2, -1))
        a.put("rpn/deltas", deltas.reshape(2, -1, 4))

        # The whole RPN at test time on a padded 64x96 batch of a 60x90 and a 64x80 image.
        image_sizes = [(60, 90), (64, 80)]
        images = ImageList(torch.zeros(2, 3, 64, 96), image_sizes)
        proposals, _ = model.rpn(images, dict(zip(["0", "1", "2", "3", "pool"], feats)))
        for i, p in enumerate(proposals):
            a.put(f"rpn/proposals{i}", p)

        pooled = torch.randn(33, 256, 7, 7)
        logits, box_deltas = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
        a.put("box/pooled", pooled)
        a.put("box/classLogits", logits)
        a.put("box/boxDeltas", box_deltas)
        # postprocess_detections on 33 proposals of a 60x90 image, scores spread by the logits.
        box_proposals = torch.rand(33, 4) * torch.tensor([60.0, 40.0, 30.0, 30.0])
        box_proposals[:, 2:] += box_proposals[:, :2]
        boxes, scores, labels = model.roi_heads.postprocess_detections(logits * 3, box_deltas, [box_proposals], [(60, 90)])
        a.put("box/proposals", box_proposals)
        a.put("det/boxes", boxes[0])
        a.put("det/scores", scores[0])
        a.put("det/labels", labels[0])

        pooled = torch.randn(9, 256, 14, 14)
        labels = torch.randint(0, NUM_CLASSES, (9,))
        mask_logits = model.roi_heads.mask_predictor(model.roi_heads.mask_head(pooled))
        probs = mask_logits.sigmoid()[torch.arange(9), labels][:, None]
        a.put("mask/pooled", pooled)
        a.put("mask/labels", labels)
        a.put("mask/probs", probs)
    a.meta = {"numClasses": NUM_CLASSES}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
