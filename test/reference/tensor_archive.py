"""A tensor archive shared with test/helpers/tensorArchive.ts.

A folder holding manifest.json ({name: {"dtype", "shape", "file"}} plus free "meta") and one raw
little-endian file per tensor. Used to hand inputs and torchvision's outputs to the mocha tests.
"""
import json
import os
import sys

try:
    import torch
    import torchvision  # noqa: F401
except ImportError as e:  # pragma: no cover - message for a machine without the reference
    sys.stderr.write(
        "torchvision reference unavailable (%s): install it with\n"
        "  apt-get install python3-torch python3-torchvision python3-onnx libopenblas0-pthread\n"
        "and run the tests with /usr/bin/python3 on PATH or RESDET_PYTHON=/usr/bin/python3\n" % e)
    sys.exit(3)

_DTYPES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.uint8: "uint8",
    torch.bool: "uint8",
}


class Archive:
    def __init__(self, folder):
        self.folder = folder
        self.entries = {}
        self.meta = {}
        os.makedirs(folder, exist_ok=True)

    def put(self, name, tensor):
        t = torch.as_tensor(tensor).detach().cpu().contiguous()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        dtype = _DTYPES[t.dtype]
        file = name.replace("/", "__") + ".bin"
        with open(os.path.join(self.folder, file), "wb") as f:
            f.write(t.numpy().tobytes())
        self.entries[name] = {"dtype": dtype, "shape": list(t.shape), "file": file}

    def close(self):
        with open(os.path.join(self.folder, "manifest.json"), "w") as f:
            json.dump({"tensors": self.entries, "meta": self.meta}, f)


def load(folder):
    import numpy as np
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    out = {}
    for name, e in manifest["tensors"].items():
        arr = np.fromfile(os.path.join(folder, e["file"]), dtype=e["dtype"]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, manifest.get("meta", {})
