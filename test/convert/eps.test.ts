import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { convertCheckpoint, decideFrozenBnEps } from '../../src/convert/index.js';
import { fileSha256, torchvisionV1CocoFile } from '../../src/convert/eps.js';
import { torchReference } from '../helpers/reference.js';

describe('resdet convert decides the FrozenBatchNorm eps from the content where it can', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-eps-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it("knows torchvision's COCO_V1 files by the sha256 their names carry, whatever they are called", () => {
    expect(torchvisionV1CocoFile(`bf2d0c1e${'0'.repeat(56)}`)).to.equal('maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth');
    expect(torchvisionV1CocoFile(`258fb6c6${'a'.repeat(56)}`)).to.equal('fasterrcnn_resnet50_fpn_coco-258fb6c6.pth');
    expect(torchvisionV1CocoFile(`73cbd019${'0'.repeat(56)}`)).to.equal(undefined); // the v2 file: BatchNorm2d, no FrozenBatchNorm eps
  });

  it('a FrozenBatchNorm2d checkpoint: 1e-5 by default, 0 when named as a COCO_V1 file (the content cannot say), --eps wins', async () => {
    const ref = torchReference('convert_cases');
    const file = join(ref.folder, 'r18.pth');
    const sd = await loadCheckpoint(file);
    const plain = decideFrozenBnEps(sd, file, 'backbone.', 'r18.pth');
    expect(plain.eps).to.equal(1e-5);
    expect(plain.reason).to.match(/stores no eps .* not one of torchvision's COCO_V1 files/);
    const renamed = join(work, 'maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth');
    copyFileSync(file, renamed);
    const named = decideFrozenBnEps(sd, renamed, 'backbone.', 'maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth');
    expect(named.eps).to.equal(0);
    expect(named.reason).to.contain(`though its sha256 (${fileSha256(renamed).slice(0, 8)}...) does not start with the name's hash`);
    expect(decideFrozenBnEps(sd, file, 'backbone.', 'r18.pth', 0.001)).to.deep.equal({ eps: 0.001, reason: 'given (--eps)' });

    const out = join(work, 'r18');
    const s = await convertCheckpoint(file, { out });
    expect(s.variant).to.equal('v1');
    const manifest = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8'));
    expect(manifest.backbone.frozenBnEps).to.equal(1e-5);
    expect(manifest.source.frozenBnEpsReason).to.equal(plain.reason);
    expect(manifest.source.family).to.equal('Mask R-CNN v1, ResNet-18-FPN');
  });

  it('a BatchNorm2d body (v2): 1e-5, the layers\' own, whatever the name', async () => {
    const ref = torchReference('v2_cases', ['faster-v2']);
    const file = join(ref.folder, 'faster-v2.pth');
    const renamed = join(work, 'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth');
    copyFileSync(file, renamed);
    const d = decideFrozenBnEps(await loadCheckpoint(renamed), renamed, 'backbone.', 'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth');
    expect(d.eps).to.equal(1e-5);
    expect(d.reason).to.match(/BatchNorm2d .* num_batches_tracked/);
  });
});
