#!/usr/bin/python3
"""Fine-tunes a Faster/Mask R-CNN onto a COCO dataset with its own classes (torchvision 0.14, CPU).

    /usr/bin/python3 tools/finetune.py --ckpt test/fixtures/shapes/model_final.pth \\
        --data my_coco --out runs/ft --steps 600 --eval-every 50
    /usr/bin/python3 tools/finetune.py ... --resume           # continues from <out>/last.pth
    /usr/bin/python3 tools/finetune.py ... --from-scratch     # the same architecture, random init

--data DIR reads DIR/annotations/instances_{train,val}.json with images in DIR/{train,val} (the
layout `resdet dataset` writes); --train-ann/--train-images and --val-ann/--val-images name the
files of any other layout. --ckpt is a resdet package's source checkpoint (the bundled model's is
test/fixtures/shapes/model_final.pth) or a torchvision ResNet-50/101/152-FPN Faster/Mask R-CNN
state dict; its architecture is read from the weights. The class-dependent layers (box predictor
cls_score and bbox_pred, mask predictor mask_fcn_logits) are re-initialised for the dataset's
classes; the other weights are kept. --trainable-layers N trains the last N backbone stages (as
torchvision's trainable_backbone_layers: 0 freezes the whole ResNet body, 5 trains all of it);
the backbone's BatchNorm statistics stay as trained when fine-tuning.

Writes to --out: log.csv (step, minutes, lr, losses every --log-every steps), eval.csv (box and
mask AP@[0.5:0.95] on the first --eval-images held-out images every --eval-every steps),
last.pth (model, optimizer, step, args: resumable), classes.txt (the names, for `resdet convert
--classes`), transform.json (the image sizes trained at) and, at the end, model_final.pth (the
state dict, FrozenBatchNorm2d layout). Into a package (convert + the transform sizes):
    sh tools/package_finetuned.sh <out> <pkg>
"""
import argparse
import csv
import json
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coco_data import CocoDataset, DataError  # noqa: E402
from eval_shapes import average_precision, box_iou, mask_iou  # noqa: E402
from finetune_model import CheckpointError, build, describe, freeze_backbone, load_source, read_state_dict, set_train_mode  # noqa: E402
from shapes_data import batch  # noqa: E402
from shapes_model import frozen_state_dict  # noqa: E402
from train_shapes import lr_at, save, train_step  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ckpt', required=True, help='source checkpoint: its architecture, and its weights unless --from-scratch')
    p.add_argument('--from-scratch', action='store_true', help='same architecture, random initialisation (the baseline)')
    p.add_argument('--data', help='a folder in the layout of `resdet dataset`')
    p.add_argument('--train-ann')
    p.add_argument('--train-images')
    p.add_argument('--val-ann')
    p.add_argument('--val-images')
    p.add_argument('--out', required=True)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--warmup', type=int, default=50)
    p.add_argument('--trainable-layers', type=int, default=3, help='backbone stages trained, 0..5 (default 3)')
    p.add_argument('--min-size', type=int, default=0, help='transform min_size (default: 256 for the shapes family, else 800)')
    p.add_argument('--max-size', type=int, default=0, help='transform max_size (default: 256 for the shapes family, else 1333)')
    p.add_argument('--eval-every', type=int, default=50, help='0: only at the end')
    p.add_argument('--eval-images', type=int, default=60, help='first N held-out images; 0: all')
    p.add_argument('--save-every', type=int, default=50)
    p.add_argument('--log-every', type=int, default=10)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--max-minutes', type=float, default=0, help='stop (and save) after this much training time; 0: no limit')
    p.add_argument('--resume', action='store_true', help='continue from <out>/last.pth')
    args = p.parse_args(argv)
    if args.data:
        for split in ('train', 'val'):
            if getattr(args, split + '_ann') is None:
                setattr(args, split + '_ann', os.path.join(args.data, 'annotations', 'instances_%s.json' % split))
            if getattr(args, split + '_images') is None:
                setattr(args, split + '_images', os.path.join(args.data, split))
    if not args.train_ann or not args.train_images:
        p.error('give --data DIR, or --train-ann FILE and --train-images DIR')
    if bool(args.val_ann) != bool(args.val_images):
        p.error('--val-ann and --val-images go together')
    return args


def evaluate(model, ds, count, masks):
    """Box and mask AP@[0.5:0.95] on the first `count` images (0: all); mask AP None without masks."""
    model.eval()
    n = len(ds) if count <= 0 else min(count, len(ds))
    boxes_eval, masks_eval = [], []
    with torch.no_grad():
        for i in range(n):
            image, target = ds.load(i)
            out = model([image])[0]
            s, d, g = out['scores'].numpy(), out['labels'].numpy(), target['labels'].numpy()
            boxes_eval.append((box_iou(out['boxes'].numpy(), target['boxes'].numpy()), s, d, g))
            if masks:
                masks_eval.append((mask_iou((out['masks'][:, 0] > 0.5).numpy(), target['masks'].numpy()), s, d, g))
    k = len(ds.names) + 1
    return average_precision(boxes_eval, k), (average_precision(masks_eval, k) if masks else None)


def append_row(path, header, row):
    new = not os.path.exists(path)
    with open(path, 'a', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        if new:
            w.writerow(header)
        w.writerow(row)


def run(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    last = os.path.join(args.out, 'last.pth')
    resumed = None
    if args.resume:
        if not os.path.isfile(last):
            raise CheckpointError('%s: nothing to resume (no such file)' % last)
        resumed = torch.load(last, map_location='cpu')
        for key in ('model', 'optimizer', 'step', 'args'):
            if key not in resumed:
                raise CheckpointError('%s: not a finetune.py last.pth (no "%s")' % (last, key))
        for key in ('ckpt', 'from_scratch', 'trainable_layers', 'batch', 'lr', 'seed'):  # --steps may grow
            if key in resumed['args'] and resumed['args'][key] != getattr(args, key):
                raise CheckpointError('%s: was started with --%s %s, not %s' % (
                    last, key.replace('_', '-'), resumed['args'][key], getattr(args, key)))
    state = read_state_dict(args.ckpt)
    desc = describe(state)
    train = CocoDataset(args.train_ann, args.train_images, need_masks=desc['mask'])
    val = CocoDataset(args.val_ann, args.val_images, need_masks=desc['mask']) if args.val_ann else None
    if val is not None and val.names != train.names:
        raise DataError('%s: its categories %s differ from the training set\'s %s' % (args.val_ann, val.names, train.names))
    shapes = desc['family'] == 'shapes'
    min_size = args.min_size or (256 if shapes else 800)
    max_size = args.max_size or (256 if shapes else 1333)
    num_classes = len(train.names) + 1
    model = build(desc, num_classes, min_size, max_size)
    reset = []
    if not args.from_scratch:
        reset = load_source(model, state, args.ckpt)
    bn_frozen = not args.from_scratch
    trainable = freeze_backbone(model, 5 if args.from_scratch else args.trainable_layers, bn_frozen)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    step, elapsed = 0, 0.0
    if resumed is not None:
        model.load_state_dict(resumed['model'])
        opt.load_state_dict(resumed['optimizer'])
        step, elapsed = resumed['step'], resumed.get('elapsed', 0.0)
        print('resumed at step %d (%.1f min trained)' % (step, elapsed / 60), flush=True)
    with open(os.path.join(args.out, 'classes.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in train.names))
    with open(os.path.join(args.out, 'transform.json'), 'w') as f:
        json.dump({'minSize': min_size, 'maxSize': max_size}, f)
    print('%s: %s %s, widths %s, blocks %s; %s; %d classes (%s); %.2fM of %.2fM parameters trained; %d training images%s' % (
        args.ckpt, desc['family'], 'Mask R-CNN' if desc['mask'] else 'Faster R-CNN', desc['widths'], desc['layers'],
        'random init' if args.from_scratch else 're-initialised %d class-dependent tensors' % len(reset),
        len(train.names), ', '.join(train.names), trainable / 1e6, sum(q.numel() for q in model.parameters()) / 1e6,
        len(train), '' if val is None else ', %d held out' % len(val)), flush=True)
    rng = random.Random(args.seed * 1000003 + step)
    log_csv, eval_csv = os.path.join(args.out, 'log.csv'), os.path.join(args.out, 'eval.csv')

    def run_eval():
        if val is None:
            return
        t = time.time()
        minutes = (t - t0) / 60  # training time: this evaluation not counted
        box_ap, mask_ap = evaluate(model, val, args.eval_images, desc['mask'])
        append_row(eval_csv, ['step', 'minutes', 'box_ap', 'mask_ap'],
                   [step, '%.2f' % minutes, '%.4f' % box_ap, '' if mask_ap is None else '%.4f' % mask_ap])
        print('eval step %d: box AP %.4f%s (%.0f s)' % (step, box_ap, '' if mask_ap is None else ', mask AP %.4f' % mask_ap,
                                                        time.time() - t), flush=True)
        set_train_mode(model, bn_frozen)

    t0 = time.time() - elapsed
    if step == 0 and args.eval_every > 0:
        run_eval()
        t0 = time.time()  # the step-0 evaluation is not training time
    set_train_mode(model, bn_frozen)

    def finite(loss):
        if not torch.isfinite(loss):
            raise SystemExit('step %d: the loss is %s; lower --lr' % (step, loss.item()))

    running = {}
    while step < args.steps:
        lr = lr_at(step, time.time() - t0, args)
        for g in opt.param_groups:
            g['lr'] = lr
        images, targets = batch(train, rng, args.batch, DataError)
        train_step(model, opt, params, images, targets, running, finite)
        step += 1
        if step % args.log_every == 0:
            mean = {k: v / args.log_every for k, v in running.items()}
            minutes = (time.time() - t0) / 60
            print('step %d lr %.2e loss %.4f [%s] %.1f min' % (
                step, lr, sum(mean.values()), ' '.join('%s %.4f' % (k.replace('loss_', ''), v) for k, v in mean.items()), minutes),
                flush=True)
            append_row(log_csv, ['step', 'minutes', 'lr', 'loss'] + sorted(mean),
                       [step, '%.2f' % minutes, '%.3e' % lr, '%.4f' % sum(mean.values())] + ['%.4f' % mean[k] for k in sorted(mean)])
            running = {}
        out_of_time = args.max_minutes > 0 and time.time() - t0 > args.max_minutes * 60
        if step % args.save_every == 0 or step == args.steps or out_of_time:
            save(last, {'model': model.state_dict(), 'optimizer': opt.state_dict(), 'step': step,
                        'elapsed': time.time() - t0, 'args': vars(args)})
        if args.eval_every > 0 and step % args.eval_every == 0 and step < args.steps and not out_of_time:
            t_eval = time.time()
            run_eval()
            t0 += time.time() - t_eval  # evaluation time is not training time
        if out_of_time:
            print('time limit reached at step %d' % step, flush=True)
            break
    run_eval()
    final = os.path.join(args.out, 'model_final.pth')
    save(final, frozen_state_dict(model))
    print('done: %d steps in %.1f min -> %s (classes in %s)' % (step, (time.time() - t0) / 60, final,
                                                                 os.path.join(args.out, 'classes.txt')), flush=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except (CheckpointError, DataError, ValueError) as e:
        print('finetune.py: error: %s' % e, file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == '__main__':
    main()
