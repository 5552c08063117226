/**
 * Downloads in Node: the cache folder, the package-file store behind `loadModel(url)`, resumable
 * checkpoint downloads for `resdet convert <url>`, and a terminal progress reporter.
 * Exports: resdetCacheDir, nodePackageStore, downloadCheckpoint, checkpointCachePath,
 * checkpointFileName, hashPrefixOf, progressReporter, DownloadError.
 */
export { resdetCacheDir } from './cacheDir.js';
export { nodePackageStore } from './packageStore.js';
export { checkpointCachePath, checkpointFileName, downloadCheckpoint, hashPrefixOf, type DownloadedCheckpoint } from './checkpoint.js';
export { progressReporter, type ProgressStream } from './progressBar.js';
export { DownloadError } from './errors.js';
