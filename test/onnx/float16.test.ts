import { expect } from 'chai';
import { GraphBuilder, attr, float16Bits, float16Value, readModel, serializeModel, toFloat16 } from '../../onnx/index.js';

describe('onnx float16', () => {
  it('rounds float32 to half precision to nearest, ties to even, as IEEE 754 says', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff],
      [65520, 0x7c00], // halfway past the largest finite half: rounds to infinity
      [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], [2 ** -14, 0x0400], [2 ** -26, 0x0000], [3 * 2 ** -25, 0x0002],
      [1 + 2 ** -11, 0x3c00], // tie: to the even mantissa
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) expect(float16Bits(value), String(value)).to.equal(bits);
    expect(float16Bits(NaN) & 0x7c00).to.equal(0x7c00);
    expect(float16Bits(NaN) & 0x3ff).to.not.equal(0);
  });

  it('maps every finite half back to itself through float32', () => {
    for (let b = 0; b < 0x10000; b++) {
      if ((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0) continue; // NaN
      expect(float16Bits(float16Value(b))).to.equal(b);
    }
  });

  it('readModel reads back what serializeModel wrote, float16, int8 and uint8 tensors included', () => {
    const g = new GraphBuilder('roundtrip');
    const x = g.input('x', 'float32', [1, 2, 'h', 'w']);
    const w = g.initializer('w', { dtype: 'float32', shape: [2, 2, 1, 1], data: Float32Array.of(1, -2, 0.5, 3) });
    const y = g.conv(x, w, undefined, { pads: [0, 0, 0, 0] });
    const [z] = g.node('LeakyRelu', [y], { alpha: attr.float(0.25) });
    g.output(z, 'y', 'float32', [1, 2, 'h', 'w']);
    const model = g.toModel();
    const extra = [
      { name: 'h', dtype: 'float16' as const, dims: [3], data: toFloat16(Float32Array.of(1, 0.1, -7)) },
      { name: 'q', dtype: 'int8' as const, dims: [2], data: Int8Array.of(-127, 5) },
      { name: 'u', dtype: 'uint8' as const, dims: [], data: Uint8Array.of(200) },
    ];
    const withExtra = { ...model, graph: { ...model.graph, initializers: [...model.graph.initializers, ...extra] } };
    const bytes = serializeModel(withExtra);
    const back = readModel(bytes);
    expect(serializeModel(back)).to.deep.equal(bytes);
    const h = back.graph.initializers.find((t) => t.name === 'h')!;
    expect(h.dtype).to.equal('float16');
    expect([...(h.data as Uint16Array)].map(float16Value)).to.deep.equal([1, float16Value(0x2e66), -7]);
    expect(back.graph.nodes[1].attributes.alpha).to.deep.equal({ type: 'float', value: 0.25 });
  });
});
