#!/usr/bin/python3
"""The transfer-learning measurement's table and learning curve from two finetune.py runs.

    /usr/bin/python3 tools/plot_finetune.py --finetuned .cache/finetune/ft --scratch .cache/finetune/scratch \\
        --png docs/finetune-curve.png

Reads <run>/eval.csv of each run (step, minutes, box_ap, mask_ap), prints a Markdown table of the
held-out AP at every evaluated step, and the step at which the fine-tuned run first reaches the
from-scratch run's final box and mask AP; writes the plot (AP against steps and against minutes).
Needs matplotlib (apt-get install python3-matplotlib) for --png.
"""
import argparse
import csv
import os
import sys


def read_eval(run):
    path = os.path.join(run, 'eval.csv')
    if not os.path.isfile(path):
        sys.exit('plot_finetune.py: error: %s: no such file (run tools/finetune.py with a held-out set first)' % path)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit('plot_finetune.py: error: %s: no evaluations' % path)
    by_step = {}
    for r in rows:  # a resumed run may evaluate a step twice: the last one counts
        by_step[int(r['step'])] = (float(r['minutes']), float(r['box_ap']), float(r['mask_ap']) if r['mask_ap'] else None)
    return [(s,) + by_step[s] for s in sorted(by_step)]


def first_reaching(rows, value, column):
    for r in rows:
        if r[column] is not None and r[column] >= value:
            return r
    return None


def fmt(x):
    return '-' if x is None else '%.3f' % x


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--finetuned', required=True, help='output folder of the fine-tuning run')
    p.add_argument('--scratch', required=True, help='output folder of the from-scratch run')
    p.add_argument('--png', help='write the learning curve here')
    args = p.parse_args()
    ft, sc = read_eval(args.finetuned), read_eval(args.scratch)
    ft_by, sc_by = {r[0]: r for r in ft}, {r[0]: r for r in sc}
    print('| step | fine-tuned box AP | fine-tuned mask AP | from scratch box AP | from scratch mask AP |')
    print('|---:|---:|---:|---:|---:|')
    for s in sorted(set(ft_by) | set(sc_by)):
        a, b = ft_by.get(s), sc_by.get(s)
        print('| %d | %s | %s | %s | %s |' % (s, fmt(a and a[2]), fmt(a and a[3]), fmt(b and b[2]), fmt(b and b[3])))
    last_ft, last_sc = ft[-1], sc[-1]
    print()
    print('end of the time budget: fine-tuned step %d (%.1f min) box AP %.3f, mask AP %s; from scratch step %d (%.1f min) box AP %.3f, mask AP %s'
          % (last_ft[0], last_ft[1], last_ft[2], fmt(last_ft[3]), last_sc[0], last_sc[1], last_sc[2], fmt(last_sc[3])))
    for name, col in (('box', 2), ('mask', 3)):
        target = last_sc[col]
        if target is None:
            continue
        hit = first_reaching(ft, target, col)
        if hit is None:
            print('fine-tuning never reaches the from-scratch final %s AP %.3f' % (name, target))
        else:
            print('fine-tuning reaches the from-scratch final %s AP %.3f at step %d (%.0f%% of the %d steps, %.1f min)'
                  % (name, target, hit[0], 100.0 * hit[0] / last_sc[0], last_sc[0], hit[1]))
    if args.png:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        for ax, x, label in ((axes[0], 0, 'training step'), (axes[1], 1, 'training minutes (CPU, 1 thread)')):
            for rows, name, color in ((ft, 'fine-tuned from the shapes model', 'tab:blue'), (sc, 'from scratch', 'tab:orange')):
                ax.plot([r[x] for r in rows], [r[2] for r in rows], '-o', ms=3, color=color, label=name + ', box AP')
                if rows[0][3] is not None:
                    ax.plot([r[x] for r in rows], [r[3] for r in rows], '--s', ms=3, color=color, label=name + ', mask AP')
            ax.set_xlabel(label)
            ax.set_ylabel('held-out AP@[0.5:0.95]')
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, loc='lower right')
        fig.suptitle('hexagon / heart / arrow / crescent, 300 training images')
        fig.tight_layout()
        fig.savefig(args.png)
        print('wrote %s' % args.png)


if __name__ == '__main__':
    main()
