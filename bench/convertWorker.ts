/** One conversion for `npm run bench:convert`, in its own process: prints seconds and peak RSS (MiB) as JSON. */
import { convertCheckpoint } from '../src/convert/index.js';

const [checkpoint, out] = process.argv.slice(2);
const t0 = performance.now();
await convertCheckpoint(checkpoint, { out });
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
