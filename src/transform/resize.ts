/**
 * Bilinear resize of planar float images, equal to torch 1.13's CPU `upsample_bilinear2d` with
 * `align_corners=False` and no scale factor (torchvision resizes with `recompute_scale_factor=True`,
 * so the kernel sees only the integer output size and derives the scale as in / out).
 *
 * C: channels, H, W: input size, OH, OW: output size.
 */

/** Source taps of one output axis: two input indices and their weights per output index. */
export interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

/**
 * Taps for resizing an axis of `inSize` to `outSize` samples, as torch's
 * `compute_indices_weights_linear` computes them: src = scale * (dst + 0.5) - 0.5, clamped at 0,
 * with the upper neighbour clamped to the last sample. Measured against torch: the scale is a float32,
 * the source position a double (all-float32 drifts by ~3e-5 at x = 1000, all-double as much).
 */
export function linearTaps(inSize: number, outSize: number): LinearTaps {
  const taps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  const scale = Math.fround(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    let src = scale * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const lambda = src - i0;
    taps.i0[d] = i0;
    taps.i1[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    taps.w1[d] = lambda;
    taps.w0[d] = 1 - lambda;
  }
  return taps;
}

/**
 * Resizes `input` [C, H, W] to [C, OH, OW] into `output` at `outOffset`, row stride `outStride`
 * (so it can write straight into a padded batch tensor).
 */
export function resizeBilinearInto(
  input: Float32Array, channels: number, height: number, width: number,
  output: Float32Array, outHeight: number, outWidth: number,
  outStride: number, outPlaneSize: number, outOffset = 0,
): void {
  const ty = linearTaps(height, outHeight);
  const tx = linearTaps(width, outWidth);
  for (let c = 0; c < channels; c++) {
    const plane = c * height * width;
    const outPlane = outOffset + c * outPlaneSize;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = plane + ty.i0[oy] * width;
      const r1 = plane + ty.i1[oy] * width;
      const wy0 = ty.w0[oy];
      const wy1 = ty.w1[oy];
      const o = outPlane + oy * outStride;
      for (let ox = 0; ox < outWidth; ox++) {
        const a = tx.i0[ox];
        const b = tx.i1[ox];
        const wx0 = tx.w0[ox];
        const wx1 = tx.w1[ox];
        // torch's order: h0lambda * (w0lambda * x00 + w1lambda * x01) + h1lambda * (...); the sum
        // is kept in double, so it may differ from torch's float32 by one ulp.
        output[o + ox] =
          wy0 * (wx0 * input[r0 + a] + wx1 * input[r0 + b]) + wy1 * (wx0 * input[r1 + a] + wx1 * input[r1 + b]);
      }
    }
  }
}

/**
 * {@link resizeBilinearInto} reading interleaved 8-bit RGB [H, W, 3] through a per-channel table
 * of the values the float path would hold (`lut[c * 256 + v]`, e.g. normalised v / 255): the same
 * taps and arithmetic, so the same output to the bit, without a float copy of the full-size image
 * (12 bytes per pixel for a 48 MP photo: 576 MB).
 */
export function resizeBilinearRgb8Into(
  rgb: Uint8Array, lut: Float32Array, height: number, width: number,
  output: Float32Array, outHeight: number, outWidth: number,
  outStride: number, outPlaneSize: number, outOffset = 0,
): void {
  if (outHeight === height && outWidth === width) {
    copyRgb8Into(rgb, lut, height, width, output, outStride, outPlaneSize, outOffset);
    return;
  }
  const ty = linearTaps(height, outHeight);
  const tx = linearTaps(width, outWidth);
  const rowStride = 3 * width;
  for (let c = 0; c < 3; c++) {
    const table = lut.subarray(c * 256, (c + 1) * 256);
    const outPlane = outOffset + c * outPlaneSize;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = ty.i0[oy] * rowStride + c;
      const r1 = ty.i1[oy] * rowStride + c;
      const wy0 = ty.w0[oy];
      const wy1 = ty.w1[oy];
      const o = outPlane + oy * outStride;
      for (let ox = 0; ox < outWidth; ox++) {
        const a = 3 * tx.i0[ox];
        const b = 3 * tx.i1[ox];
        const wx0 = tx.w0[ox];
        const wx1 = tx.w1[ox];
        output[o + ox] =
          wy0 * (wx0 * table[rgb[r0 + a]] + wx1 * table[rgb[r0 + b]]) + wy1 * (wx0 * table[rgb[r1 + a]] + wx1 * table[rgb[r1 + b]]);
      }
    }
  }
}

/**
 * The resize to the same size: every tap is (i, 1) and (i or i + 1, 0), so torch's sum is
 * 1 * (1 * v + 0 * v') + 0 * (...) = v exactly: a table lookup per pixel gives the same bits.
 */
function copyRgb8Into(rgb: Uint8Array, lut: Float32Array, height: number, width: number, output: Float32Array, outStride: number, outPlaneSize: number, outOffset: number): void {
  for (let c = 0; c < 3; c++) {
    const table = lut.subarray(c * 256, (c + 1) * 256);
    const outPlane = outOffset + c * outPlaneSize;
    for (let y = 0; y < height; y++) {
      const o = outPlane + y * outStride;
      for (let x = 0, i = 3 * y * width + c; x < width; x++, i += 3) output[o + x] = table[rgb[i]];
    }
  }
}
