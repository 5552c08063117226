"""torchvision 0.14 GeneralizedRCNNTransform on seeded images of several sizes (test/transform)."""
import sys

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from tensor_archive import Archive

SIZES = [(427, 640), (480, 640), (40, 56), (200, 1000), (333, 333), (1, 1), (1100, 700)]


def main(out):
    torch.manual_seed(0)
    a = Archive(out)
    t = GeneralizedRCNNTransform(800, 1333, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    for h, w in SIZES:
        # uint8 pixels / 255, as to_tensor gives them
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8).float() / 255
        batch, _ = t([img])
        name = f"{h}x{w}"
        a.put(f"{name}/image", img)
        a.put(f"{name}/tensors", batch.tensors[0])
        a.put(f"{name}/image_size", torch.tensor(batch.image_sizes[0]))
    a.meta = {"sizes": [f"{h}x{w}" for h, w in SIZES]}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
