/**
 * `--shard K/N`: a deterministic share of the global input, so that N machines (or N processes)
 * each annotate one share and `resdet merge` joins them. The share is by global index, not by
 * position in a shard's list, so ids stay global and the union of the N shards is the input.
 */
import { AnnotateError } from './errors.js';
import type { InputImage } from './types.js';

/** Shard K of N, 1 <= k <= n. */
export interface Shard {
  k: number;
  n: number;
}

/** The whole input: what a run without --shard is, and what `resdet merge` writes. */
export const WHOLE_INPUT: Shard = Object.freeze({ k: 1, n: 1 });

/** Shards up to this many: a count past it is a typo, not a cluster. */
const MAX_SHARDS = 1_000_000;

/**
 * Parses `K/N` ('3/8'): decimal integers, 1 <= K <= N.
 * @throws AnnotateError (ANNOTATE_SHARD) naming the value
 */
export function parseShard(value: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) throw new AnnotateError('ANNOTATE_SHARD', `--shard '${value}' is not K/N (e.g. --shard 2/4: the second of four shares)`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || n > MAX_SHARDS) throw new AnnotateError('ANNOTATE_SHARD', `--shard '${value}': N must be from 1 to ${MAX_SHARDS}`);
  if (k < 1 || k > n) throw new AnnotateError('ANNOTATE_SHARD', `--shard '${value}': K must be from 1 to N (${n})`);
  return { k, n };
}

/** 'K/N' */
export function formatShard(shard: Shard): string {
  return `${shard.k}/${shard.n}`;
}

/** Whether the image at global `index` belongs to `shard`. */
export function inShard(index: number, shard: Shard): boolean {
  return index % shard.n === shard.k - 1;
}

/** How many of `count` global inputs fall in `shard`. */
export function shardSize(count: number, shard: Shard): number {
  return count >= shard.k ? Math.floor((count - shard.k) / shard.n) + 1 : 0;
}

/**
 * The inputs of `shard`: those whose global `index` % n === k - 1, in their global order. Every
 * image falls in exactly one of the N shards, and keeps its global `index` and `id`.
 */
export function selectShard(inputs: readonly InputImage[], shard: Shard): InputImage[] {
  return inputs.filter((input) => inShard(input.index, shard));
}
