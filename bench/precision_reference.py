"""Reference side of `npm run bench:precision`: the ResNet-50-FPN Mask R-CNN of `npm run bench`
(seeded, calibrated random weights, detect_cases.build), its 480x640 image, and calibration images
of other seeds, and the same model exported whole to one ONNX graph as `npm run bench` exports it
(torch.onnx.export, opset 11: the reference resdet's fp32 is held against). argv: <out folder>
<calibration images>. Writes model.pth, image.png, calib/*.png, whole.onnx.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import detect_cases  # noqa: E402
from scenes import scene  # noqa: E402
from detect_reference import export_whole  # noqa: E402


def main(out, calibration):
    torch.manual_seed(50)
    os.makedirs(os.path.join(out, "calib"), exist_ok=True)
    im = scene(480, 640, seed=7)
    im.save(os.path.join(out, "image.png"))
    img = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255
    model = detect_cases.build("mask", "resnet50", 800, 1333, img)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    for k in range(calibration):
        scene(480, 640, seed=100 + k).save(os.path.join(out, "calib", f"scene-{k}.png"))
    export_whole(model, img, os.path.join(out, "whole.onnx"))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
