"""Encoded images and the RGB pixels PIL (libjpeg-turbo) decodes from them (test/image).

The pixels are what torchvision pipelines feed models: PIL.Image.open(f), ImageOps.exif_transpose,
convert('RGB').
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageOps

from scenes import scene
from tensor_archive import Archive


def main(out):
    a = Archive(out)
    files = os.path.join(out, "files")
    os.makedirs(files)
    base = scene(477, 720, 1)
    cases = {}

    def save(name, im, fmt, **kw):
        path = os.path.join(files, name)
        im.save(path, fmt, **kw)
        cases[name] = path

    save("photo-q90-420.jpg", base, "JPEG", quality=90, subsampling=2)
    save("photo-q75-444.jpg", base, "JPEG", quality=75, subsampling=0)
    save("photo-progressive.jpg", base, "JPEG", quality=85, progressive=True)
    save("gray.jpg", base.convert("L"), "JPEG", quality=90)
    small = scene(61, 97, 2)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    save("orient6.jpg", small, "JPEG", quality=95, exif=exif.tobytes())
    exif[0x0112] = 3
    save("orient3.png", small, "PNG", exif=exif.tobytes())
    save("rgb.png", small, "PNG")
    rgba = small.copy()
    rgba.putalpha(Image.fromarray((np.arange(97 * 61).reshape(61, 97) % 256).astype(np.uint8)))
    save("rgba.png", rgba, "PNG")
    save("gray.png", small.convert("L"), "PNG")
    save("palette.png", small.convert("P", palette=Image.ADAPTIVE, colors=16), "PNG")
    save("rgb.bmp", small, "BMP")
    save("rgb.tiff", small, "TIFF")
    save("palette.gif", small.convert("P", palette=Image.ADAPTIVE, colors=32), "GIF")
    save("one-pixel.png", Image.new("RGB", (1, 1), (10, 200, 30)), "PNG")
    # 16-bit grayscale: PIL's convert('RGB') clips at 255; resdet keeps the high byte as libvips and
    # browsers do, so the expected pixels are computed, not decoded by PIL.
    g16 = (np.arange(61 * 97).reshape(61, 97) * 11 % 65536).astype(np.uint16)
    save("gray16.png", Image.fromarray(g16, mode="I;16"), "PNG")

    for name, path in cases.items():
        if name == "gray16.png":
            g8 = (g16 >> 8).astype(np.uint8)
            a.put(f"{name}/rgb", np.repeat(g8[:, :, None], 3, axis=2))
            continue
        im = ImageOps.exif_transpose(Image.open(path))
        a.put(f"{name}/rgb", np.asarray(im.convert("RGB")).copy())
    # Raw JPEG bytes, truncated, for the bad-input tests.
    with open(cases["photo-q90-420.jpg"], "rb") as f:
        data = f.read()
    with open(os.path.join(files, "truncated.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])
    a.meta = {"files": sorted(cases)}
    a.close()


if __name__ == "__main__":
    main(sys.argv[1])
