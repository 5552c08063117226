"""CMYK and YCCK JPEGs (and a CMYK TIFF) and the RGB pixels PIL gives for them (test/image).

What torchvision users feed a model is PIL.Image.open(f).convert('RGB'). For CMYK that is:
libjpeg's CMYK (YCCK converted to CMYK by libjpeg), inverted as Adobe's convention says whether or
not the file has an Adobe marker (PIL: "always use Adobe polarity"), then PIL's naive
cmyk2rgb, R = (255 - C) * (255 - K) / 255, with any ICC profile ignored.

Files (all drawn from one CMYK image P, with a K channel of its own):
  cmyk-adobe.jpg       PIL's own CMYK save: an Adobe APP14 marker, transform 0, inverted samples
  cmyk-no-adobe.jpg    the same file with the APP14 marker cut out (libvips then does not invert;
                       PIL still does)
  ycck.jpg             Adobe transform 2: the components are YCbCr of (C, M, Y) plus K, as
                       Photoshop writes; libjpeg converts them back to CMYK
  cmyk-progressive.jpg PIL's CMYK save, progressive
  cmyk-orient6.jpg     PIL's CMYK save with EXIF orientation 6 (exif_transpose applies)
  cmyk.tiff            CMYK TIFF (PIL and libvips both read the samples as they are)
  cmyk-all-pairs.tiff  256 x 256 CMYK TIFF holding every (C, K) pair: PIL's rounding, exactly
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageOps

from scenes import scene
from tensor_archive import Archive


def adobe_marker_offset(data):
    """Offset of the APP14 'Adobe' segment's FF byte, or -1 (searched before the first SOS)."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:
            break
        if marker == 0xEE and data[i + 4:i + 9] == b"Adobe":
            return i
        i += 2 + length
    return -1


def main(out):
    a = Archive(out)
    files = os.path.join(out, "files")
    os.makedirs(files)
    h, w = 61, 97
    p = np.asarray(scene(h, w, 4).convert("CMYK")).copy()
    y, x = np.mgrid[0:h, 0:w]
    p[..., 3] = ((x * 3 + y * 5) % 230).astype(np.uint8)  # PIL's RGB->CMYK leaves K at 0
    image = Image.fromarray(p, "CMYK")
    cases = {}

    def write(name, data):
        path = os.path.join(files, name)
        with open(path, "wb") as f:
            f.write(data)
        cases[name] = path

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95)
    adobe = buf.getvalue()
    at = adobe_marker_offset(adobe)
    assert at > 0 and adobe[at + 15] == 0, "PIL wrote no Adobe marker with transform 0"
    write("cmyk-adobe.jpg", adobe)
    seg = 2 + int.from_bytes(adobe[at + 2:at + 4], "big")
    write("cmyk-no-adobe.jpg", adobe[:at] + adobe[at + seg:])

    # YCCK: libjpeg stores Y, Cb, Cr of (255 - c', 255 - m', 255 - y') and k', where c' = 255 - C
    # are the (Adobe-inverted) samples; PIL hands libjpeg 255 - Q of a CMYK image Q and stores them
    # with transform 0, so Q = 255 - stored; the transform byte is then set to 2 (YCCK).
    ycc = np.asarray(Image.fromarray(p[..., :3]).convert("YCbCr")).astype(np.uint8)
    stored = np.concatenate([ycc, 255 - p[..., 3:]], axis=2)
    buf = io.BytesIO()
    Image.fromarray((255 - stored).astype(np.uint8), "CMYK").save(buf, "JPEG", quality=95)
    ycck = bytearray(buf.getvalue())
    at = adobe_marker_offset(ycck)
    ycck[at + 15] = 2
    write("ycck.jpg", bytes(ycck))
    back = np.asarray(Image.open(cases["ycck.jpg"])).astype(int)
    gap = np.abs(back - p.astype(int)).mean()
    assert gap < 3, f"ycck.jpg does not decode to its CMYK image (mean gap {gap}): not YCCK"
    a.meta["ycck_vs_source_mean"] = float(gap)

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, progressive=True)
    write("cmyk-progressive.jpg", buf.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    write("cmyk-orient6.jpg", buf.getvalue())
    buf = io.BytesIO()
    image.save(buf, "TIFF")
    write("cmyk.tiff", buf.getvalue())

    # Every (C, K) pair once (M = 255 - C, Y = 77), lossless: pins PIL's cmyk2rgb rounding.
    c, k = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    pairs = np.stack([c, 255 - c, np.full_like(c, 77), k], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pairs, "CMYK").save(buf, "TIFF")
    write("cmyk-all-pairs.tiff", buf.getvalue())

    for name, path in cases.items():
        im = Image.open(path)
        assert im.mode == "CMYK", (name, im.mode)
        a.put(f"{name}/rgb", np.asarray(ImageOps.exif_transpose(im).convert("RGB")).copy())
        a.put(f"{name}/cmyk", np.asarray(ImageOps.exif_transpose(im)).copy())
    a.meta["files"] = sorted(cases)
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
