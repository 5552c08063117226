#!/usr/bin/python3
"""Trains resdet's default model: a compact Mask R-CNN on the shapes dataset, from scratch, on CPU.

    node dist/src/cli/main.js dataset --out .cache/shapes/data --train 2500 --val 200 --seed 1 --size 256x256
    nohup /usr/bin/python3 tools/train_shapes.py --data .cache/shapes/data --out .cache/train --steps 3000 \
        > .cache/train/train.log 2>&1 &
    /usr/bin/python3 tools/train_shapes.py ... --resume        # continues from <out>/last.pth

Saves <out>/last.pth (model, optimizer, step, args; resumable) every --save-every steps and
<out>/model_final.pth (the state dict alone, FrozenBatchNorm2d layout) at the end, for `resdet convert`.
Needs libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS (many times slower).
"""
import argparse
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shapes_data import ShapesDataset, batch  # noqa: E402
from shapes_model import build_model, frozen_state_dict  # noqa: E402


def check_blas():
    if not os.path.exists('/usr/lib/x86_64-linux-gnu/openblas-pthread'):
        print('warning: libopenblas0-pthread is not installed; torch will use the slow reference BLAS '
              '(apt-get install libopenblas0-pthread)', flush=True)


def lr_at(step, elapsed, args):
    """Linear warm-up, then cosine decay to 1% of the base rate at --steps or --max-minutes,
    whichever comes first (so a run on a crowded machine still ends with a low rate)."""
    if step < args.warmup:
        return args.lr * (0.1 + 0.9 * step / args.warmup)
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    if args.max_minutes > 0:
        t = max(t, elapsed / (args.max_minutes * 60))
    t = min(1.0, t)
    return args.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def save(path, obj):
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_step(model, opt, params, images, targets, running, check_loss=None):
    """One optimiser step on the summed losses (gradients clipped to norm 10), each loss added to
    `running`; `check_loss(loss)` sees the sum before the backward pass (finetune.py stops on a
    non-finite one)."""
    losses = model(images, targets)
    loss = sum(losses.values())
    if check_loss:
        check_loss(loss)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 10.0)
    opt.step()
    for k, v in losses.items():
        running[k] = running.get(k, 0.0) + v.item()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--warmup', type=int, default=200)
    p.add_argument('--save-every', type=int, default=100)
    p.add_argument('--log-every', type=int, default=10)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--resume', action='store_true')
    p.add_argument('--max-minutes', type=float, default=0, help='stop (and save) after this much wall time; 0: no limit')
    args = p.parse_args()
    check_blas()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    ds = ShapesDataset(args.data, 'train')
    num_classes = len(ds.names) + 1
    model = build_model(num_classes)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    step, elapsed = 0, 0.0
    last = os.path.join(args.out, 'last.pth')
    if args.resume:
        ck = torch.load(last)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['optimizer'])
        step, elapsed = ck['step'], ck.get('elapsed', 0.0)
        print('resumed at step %d (%.1f min trained)' % (step, elapsed / 60), flush=True)
    rng = random.Random(args.seed * 1000003 + step)
    print('model: %.2fM parameters, %d classes, %d training images' % (
        sum(q.numel() for q in params) / 1e6, num_classes, len(ds)), flush=True)
    model.train()
    t0 = time.time() - elapsed
    running = {}
    while step < args.steps:
        lr = lr_at(step, time.time() - t0, args)
        for g in opt.param_groups:
            g['lr'] = lr
        images, targets = batch(ds, rng, args.batch)
        train_step(model, opt, params, images, targets, running)
        step += 1
        if step % args.log_every == 0:
            parts = ' '.join('%s %.4f' % (k.replace('loss_', ''), v / args.log_every) for k, v in running.items())
            total = sum(running.values()) / args.log_every
            print('step %d lr %.2e loss %.4f [%s] %.1f min' % (step, lr, total, parts, (time.time() - t0) / 60),
                  flush=True)
            running = {}
        out_of_time = args.max_minutes > 0 and time.time() - t0 > args.max_minutes * 60
        if step % args.save_every == 0 or step == args.steps or out_of_time:
            save(last, {'model': model.state_dict(), 'optimizer': opt.state_dict(), 'step': step,
                        'elapsed': time.time() - t0, 'args': vars(args)})
        if out_of_time:
            print('time limit reached at step %d' % step, flush=True)
            break
    save(os.path.join(args.out, 'model_final.pth'), frozen_state_dict(model))
    print('done: %d steps in %.1f min -> %s' % (step, (time.time() - t0) / 60, os.path.join(args.out, 'model_final.pth')), flush=True)


if __name__ == '__main__':
    main()
