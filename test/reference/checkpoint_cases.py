"""Checkpoint files written by torch 1.13 itself, and the tensor values torch saved in them.

Archive layout:
  file/<case>            uint8: the bytes of the checkpoint file
  expect/<case>/<key>    float32 or int64: the value of each state-dict tensor, converted as the
                         loader must convert it (floating -> float32, integer/bool -> int64)
  meta.cases[case]       {"keys": [...], "hashes": {key: [dtype, shape, sha256]} (model cases),
                         "refused": "<global>" and "marker": "<path>" (malicious cases)}
"""
import argparse
import hashlib
import io
import os
import pickle
import struct
import sys
import zlib
import zipfile
from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from tensor_archive import Archive

out = Archive(sys.argv[1])
out.meta["cases"] = {}
torch.manual_seed(0)


def converted(t):
    t = t.detach().contiguous()
    return t.float() if t.is_floating_point() else t.long()


def put_file(case, path_or_bytes, **meta):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    out.put(f"file/{case}", torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8))
    out.meta["cases"][case] = meta


def save(obj, **kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def small_state_dict():
    """A module's state dict (OrderedDict with _metadata, a Parameter, int64 num_batches_tracked)
    plus every storage situation the loader must get right."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    m[1].num_batches_tracked.fill_(7)
    m[1].running_mean.normal_()
    sd = m.state_dict(keep_vars=True)  # keep_vars: the conv weight is saved as an nn.Parameter
    assert hasattr(sd, "_metadata")
    base = torch.randn(20)
    half = torch.randn(5, 6).half()
    half.view(-1)[:7] = torch.tensor([float("inf"), float("-inf"), float("nan"), 6e-8, -0.0, 65504.0, 1e-5]).half()
    double = torch.randn(3, 4, dtype=torch.float64)
    double.view(-1)[:4] = torch.tensor([1e-50, 1e300, 0.1, -1e-310], dtype=torch.float64)
    sd.update({
        "half": half,
        "double": double,
        "bfloat16": torch.randn(7).bfloat16(),
        "transposed": torch.randn(3, 5).t(),  # saved directly: non-contiguous
        "sliced": torch.randn(6, 8)[1:5:2, 2:7],  # non-contiguous at a storage offset
        "expanded": torch.randn(3, 1).expand(3, 4),  # stride 0
        "shared.full": base,
        "shared.a": base[2:5],  # same storage, offset 2
        "shared.b": base[5:].view(3, 5),  # same storage, offset 5
        "int32": torch.arange(-5, 5, dtype=torch.int32),
        "int8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "uint8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "int64.big": torch.tensor([2 ** 62, -(2 ** 63), 3]),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(3.5),
    })
    return sd


def expect(case, sd, prefix_strip=""):
    keys = []
    for k, v in sd.items():
        name = k[len(prefix_strip):] if prefix_strip else k
        out.put(f"expect/{case}/{name}", converted(v))
        keys.append(name)
    out.meta["cases"][case]["keys"] = keys


def rezip(data, deflate, zip64):
    """Rewrites a torch zip with DEFLATE entries and/or every size and offset in zip64 fields,
    as some tools re-pack archives (torch itself only goes zip64 past 4 GiB)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    body, central = bytearray(), bytearray()
    for name, raw in items:
        crc = zlib.crc32(raw) & 0xFFFFFFFF
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            comp, method = c.compress(raw) + c.flush(), 8
        else:
            comp, method = raw, 0
        nb, off = name.encode(), len(body)
        if zip64:
            lextra = struct.pack("<HHQQ", 1, 16, len(raw), len(comp))
            body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(lextra)) + nb + lextra + comp
            cextra = struct.pack("<HHQQQ", 1, 24, len(raw), len(comp), off)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cextra
        else:
            body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(comp), len(raw), len(nb), 0) + nb + comp
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(comp), len(raw),
                                   len(nb), 0, 0, 0, 0, 0, off) + nb
    cd_off, n = len(body), len(items)
    body += central
    if zip64:
        rec = len(body)
        body += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
        body += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
        body += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        body += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_off, 0)
    data = bytes(body)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    return data


def check_same(data, sd):
    """torch.load must read back what we claim the file holds."""
    loaded = torch.load(io.BytesIO(data))
    loaded = loaded.get("model", loaded) if isinstance(loaded, dict) else loaded
    for k, v in sd.items():
        assert torch.equal(loaded[k].float(), v.float()) or (v.is_floating_point() and torch.allclose(loaded[k].float(), v.float(), equal_nan=True)), k


# --- small state dicts in every format and protocol ------------------------------------------
sd = small_state_dict()
for case, kwargs in [
    ("small_zip", {}),
    ("small_legacy", {"_use_new_zipfile_serialization": False}),
    ("small_zip_p4", {"pickle_protocol": 4}),  # FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE
    ("small_legacy_p4", {"_use_new_zipfile_serialization": False, "pickle_protocol": 4}),
]:
    data = save(sd, **kwargs)
    check_same(data, sd)
    put_file(case, data)
    expect(case, sd)

zip_bytes = save(sd)
for case, deflate, zip64 in [("small_deflate", True, False), ("small_zip64", False, True), ("small_deflate_zip64", True, True)]:
    data = rezip(zip_bytes, deflate, zip64)
    put_file(case, data)
    expect(case, sd)

# --- a training checkpoint: state dict nested under 'model', optimizer, args --------------------
checkpoint = {
    "model": sd,
    "optimizer": {"state": {0: {"momentum_buffer": torch.randn(4, 3, 3, 3)}}, "param_groups": [{"lr": 0.02, "momentum": 0.9, "params": [0, 1]}]},
    "lr_scheduler": {"milestones": {16: 1, 22: 1}, "gamma": 0.1},
    "args": argparse.Namespace(lr=0.02, data_path="/datasets/coco", aspect_ratio_group_factor=3),
    "epoch": 25,
}
for case, kwargs in [("nested_zip", {}), ("nested_legacy", {"_use_new_zipfile_serialization": False})]:
    data = save(checkpoint, **kwargs)
    check_same(data, sd)
    put_file(case, data)
    expect(case, sd)

# --- saved from inside DataParallel: every key prefixed 'module.' ------------------------------
dp = OrderedDict(("module." + k, v) for k, v in list(sd.items())[:4])
put_file("dataparallel_zip", save(dp))
expect("dataparallel_zip", dp, prefix_strip="module.")

# --- a real torchvision model: ResNet-18 + FPN backbone (BatchNorm2d, so int64 buffers too) -----
model_sd = resnet_fpn_backbone(backbone_name="resnet18", weights=None, norm_layer=nn.BatchNorm2d, trainable_layers=5).state_dict()
hashes = {}
for k, v in model_sd.items():
    c = converted(v)
    hashes[k] = ["float32" if c.dtype == torch.float32 else "int64", list(c.shape), hashlib.sha256(c.numpy().tobytes()).hexdigest()]
for case, obj, kwargs in [("model_zip", model_sd, {}), ("model_legacy", {"model": model_sd, "epoch": 1}, {"_use_new_zipfile_serialization": False})]:
    put_file(case, save(obj, **kwargs), keys=list(model_sd.keys()), hashes=hashes)

# --- safetensors, written by hand (struct + json) ------------------------------------------------
def safetensors_bytes(tensors, metadata):
    import json
    names = {torch.float32: "F32", torch.float16: "F16", torch.float64: "F64", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL", torch.int8: "I8"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for k, v in tensors.items():
        raw = v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b""
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)  # the format pads the header with spaces to 8-byte alignment
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


st = OrderedDict((k, sd[k].detach()) for k in ["0.weight", "half", "double", "bfloat16", "1.num_batches_tracked", "int32", "int8", "uint8", "bool", "empty", "scalar"])
put_file("safetensors", safetensors_bytes(st, {"format": "pt"}))
expect("safetensors", st)

# --- malicious pickles: each would run a command that creates a marker file -------------------
class Payload:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def marker(case):
    return f"/tmp/resdet-checkpoint-pwned-{case}"


evil = [
    ("evil_system_zip", os.system, "posix.system", {}),
    ("evil_system_legacy", os.system, "posix.system", {"_use_new_zipfile_serialization": False}),
    ("evil_system_zip_p4", os.system, "posix.system", {"pickle_protocol": 4}),
    ("evil_eval_zip", eval, "builtins.eval", {}),
    ("evil_eval_legacy", eval, "builtins.eval", {"_use_new_zipfile_serialization": False}),
]
for case, fn, refused, kwargs in evil:
    path = marker(case)
    arg = f"touch {path}" if fn is os.system else f"open({path!r}, 'w').close()"
    obj = OrderedDict([("weight", torch.ones(2)), ("bias", Payload(fn, arg))])
    data = save(obj, **kwargs)
    # Prove the payload is live: torch.load (which trusts the pickle) runs it.
    if os.path.exists(path):
        os.remove(path)
    torch.load(io.BytesIO(data))
    assert os.path.exists(path), f"{case}: payload did not run under torch.load"
    os.remove(path)
    put_file(case, data, refused=refused, marker=path)

# A bare pickle (no torch framing) whose first opcode already names os.system.
put_file("evil_bare_pickle", pickle.dumps(Payload(os.system, f"touch {marker('evil_bare_pickle')}"), protocol=2),
         refused="posix.system", marker=marker("evil_bare_pickle"))
# A whole pickled module instead of its state dict.
put_file("whole_module", save(nn.Linear(2, 2)), refused="torch.nn.modules.linear.Linear")

# --- corrupt archives: a storage missing, sizes that lie -------------------------------------
def torch_like_zip(pkl, records):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for name, data in records.items():
            z.writestr(f"archive/{name}", data)
        if "version" not in records:
            z.writestr("archive/version", "3\n")
    return buf.getvalue()


class FakeStorage:
    pass


class FakeTensor:
    def __init__(self, size, stride):
        self.size, self.stride = size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (FakeStorage(), 0, self.size, self.stride, False, OrderedDict()))


def lying_pickle(numel, size, stride):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda o: ("storage", torch.FloatStorage, "0", "cpu", numel) if isinstance(o, FakeStorage) else None
    p.dump(OrderedDict([("weight", FakeTensor(size, stride))]))
    return buf.getvalue()


with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
    kept = {i.filename[len("archive/"):]: z.read(i.filename) for i in z.infolist() if i.filename != "archive/data/0"}
    pkl = kept.pop("data.pkl")
put_file("missing_storage", torch_like_zip(pkl, kept), error="archive/data/0")
four = struct.pack("<4f", 1, 2, 3, 4)
put_file("oversized_view", torch_like_zip(lying_pickle(4, (1000,), (1,)), {"data/0": four}), error="reaches element")
put_file("strided_past_storage", torch_like_zip(lying_pickle(4, (2, 2), (3, 1)), {"data/0": four}), error="reaches element")
put_file("oversized_storage", torch_like_zip(lying_pickle(10 ** 15, (4,), (1,)), {"data/0": four}), error="has 16 bytes")

# --- not checkpoints -------------------------------------------------------------------------
from torchvision.io import encode_png
put_file("png", bytes(encode_png(torch.zeros(3, 4, 4, dtype=torch.uint8)).numpy().tobytes()))
out.close()
