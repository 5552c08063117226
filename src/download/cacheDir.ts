/**
 * Where resdet keeps downloads in Node: one folder under the user's cache directory.
 *
 *   <cache>/blobs/sha256/<hex>                  package files (ONNX), named by their sha256
 *   <cache>/checkpoints/<url key>/<file name>   downloaded checkpoints, under the URL's file name
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The cache folder: `$RESDET_CACHE` when set; otherwise the platform's user cache directory plus
 * `resdet`: `$XDG_CACHE_HOME/resdet` or `~/.cache/resdet` on Linux and other Unixes,
 * `~/Library/Caches/resdet` on macOS, `%LOCALAPPDATA%\resdet\Cache` on Windows.
 * Nothing is created here; writers create what they need.
 */
export function resdetCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.RESDET_CACHE) return resolve(env.RESDET_CACHE);
  switch (platform) {
    case 'darwin':
      return join(homedir(), 'Library', 'Caches', 'resdet');
    case 'win32':
      return join(env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local'), 'resdet', 'Cache');
    default:
      // The XDG spec says to ignore a relative XDG_CACHE_HOME.
      return join(env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache'), 'resdet');
  }
}
