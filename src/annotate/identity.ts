/**
 * Run identity: what a resumed run, or a shard to be merged, must share with the journal it
 * continues. The fingerprint covers the model and the options that change results; the input
 * digest covers the global input list (ids and file names), so that shards of different inputs
 * are never joined.
 */
import { createHash } from 'node:crypto';
import type { InputImage } from './types.js';

/**
 * What identifies a model package, cheaply: its manifest (resdet.json, which holds every network's
 * sha256 and size) and each network file's name and size. The networks themselves (170 MB for
 * ResNet-50) are not hashed again: loading checks them against the manifest anyway.
 */
export interface ModelIdentity {
  /** sha256 (hex) of the manifest's canonical JSON. */
  manifestSha256: string;
  /** The network files the manifest names, by role, with their sizes. */
  files: { role: string; path: string; bytes: number }[];
}

/** Values as JSON can hold them. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON with object keys sorted (by UTF-16 code units, at every depth) and no spaces: equal values
 * give equal text whatever order their keys were set in. `undefined` members are left out, as
 * JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): Json {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value as Json;
}

function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What a run's fingerprint is made of. */
export interface FingerprintParts {
  model: ModelIdentity;
  /** The options that change results (score, maskThreshold, classes, ...), by name. */
  options: Record<string, unknown>;
}

/** sha256 (hex) of the canonical JSON of `{ model, options }`. */
export function runFingerprint(parts: FingerprintParts): string {
  return sha256Hex(canonicalJson({ model: parts.model, options: parts.options }));
}

/**
 * sha256 (hex) over the whole global input list: one line `[id,"fileName"]` (JSON, so no name can
 * fake a separator) per image, in order. Paths are left out: the same input read from another
 * mount point on another machine has the same digest.
 */
export function inputDigest(inputs: readonly Pick<InputImage, 'id' | 'fileName'>[]): string {
  const hash = createHash('sha256');
  for (const input of inputs) hash.update(JSON.stringify([input.id, input.fileName]) + '\n');
  return hash.digest('hex');
}

/** A value in a message: its JSON, cut to a readable length. */
function shown(value: unknown): string {
  const text = value === undefined ? 'unset' : canonicalJson(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * What differs between two runs' identities, in words for a message ("the model (resdet.json
 * differs); options score (0.5 -> 0.3), classes"), or undefined when nothing does.
 */
export function describeDifference(before: FingerprintParts, after: FingerprintParts): string | undefined {
  const parts: string[] = [];
  if (canonicalJson(before.model) !== canonicalJson(after.model)) {
    const why = before.model?.manifestSha256 !== after.model?.manifestSha256 ? 'resdet.json differs' : 'network file sizes differ';
    parts.push(`another model (${why})`);
  }
  const keys = [...new Set([...Object.keys(before.options ?? {}), ...Object.keys(after.options ?? {})])].sort();
  const changed = keys
    .filter((key) => canonicalJson(before.options?.[key] ?? null) !== canonicalJson(after.options?.[key] ?? null))
    .map((key) => `${key} ${shown(before.options?.[key])} -> ${shown(after.options?.[key])}`);
  if (changed.length > 0) parts.push(`other options (${changed.join(', ')})`);
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/**
 * The identity of a loaded model, from its manifest (a package read from a folder, the cache or a
 * URL alike): the manifest's canonical JSON, which holds every network's sha256 and size.
 */
export function manifestIdentity(manifest: { files: object }): ModelIdentity {
  const files = Object.entries(manifest.files as Record<string, { path: string; bytes: number } | undefined>)
    .filter((e): e is [string, { path: string; bytes: number }] => e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([role, f]) => ({ role, path: f.path, bytes: f.bytes }));
  return { manifestSha256: sha256Hex(canonicalJson(manifest)), files };
}
