"""Reference side of `npm run bench`: a ResNet-50-FPN Mask R-CNN (seeded, calibrated random weights,
as the end-to-end tests build it), a 480x640 image, torchvision eager timings, and the same model
exported whole to one ONNX graph (torch.onnx.export, opset 11), the way users deploy it today.

argv: <out folder> <threads> <repeats> [v1|v2]. v1 is `maskrcnn_resnet50_fpn` (detect_cases.py), v2
`maskrcnn_resnet50_fpn_v2` (BatchNorm everywhere, conv box head; v2_cases.py), both with the
test cases' 6 classes. Writes model.pth, image.png, whole.onnx, meta.json.
"""
import json
import os
import resource
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
import torch  # noqa: E402
import detect_cases  # noqa: E402
import v2_cases  # noqa: E402
from scenes import scene  # noqa: E402
import numpy as np  # noqa: E402


def export_whole(model, img, path):
    """The model as one ONNX graph (opset 11, dynamic image size), as users deploy it today."""
    warnings.filterwarnings("ignore")  # torch.onnx.export's tracer warnings say nothing here
    torch.onnx.export(model, ([img],), path, opset_version=11,
                      input_names=["image"], output_names=["boxes", "labels", "scores", "masks"],
                      dynamic_axes={"image": [1, 2]})


def main(out, threads, repeats, family):
    warnings.filterwarnings("ignore")  # torch.onnx.export's tracer warnings say nothing here
    torch.set_num_threads(threads)
    torch.manual_seed(50)
    os.makedirs(out, exist_ok=True)
    im = scene(480, 640, seed=7)
    im.save(os.path.join(out, "image.png"))
    img = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255
    if family == "v2":
        model = v2_cases.build("mask", 800, 1333, img)
    else:
        model = detect_cases.build("mask", "resnet50", 800, 1333, img)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    times = []
    with torch.no_grad():
        model([img])  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            (res,) = model([img])
            times.append((time.perf_counter() - t0) * 1e3)
    eager_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    export_whole(model, img, os.path.join(out, "whole.onnx"))
    export_s = time.perf_counter() - t0
    meta = {"eagerMs": statistics.median(times), "eagerRuns": times, "eagerPeakRssMiB": eager_rss,
            "detections": int(res["scores"].numel()), "exportSeconds": export_s, "threads": threads,
            "torch": torch.__version__, "family": family}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "v1")
