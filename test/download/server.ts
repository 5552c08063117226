/**
 * A local HTTP server for download tests (127.0.0.1, port 0): serves buffers by path, counts
 * requests, honours `Range` + `If-Range` when asked to, and can cut the connection after N bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server saw. */
export interface SeenRequest {
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
  /** Body bytes the server sent (before any cut). */
  sent: number;
}

export interface TestServer {
  /** Base address, ending in '/'. */
  url: string;
  /** Path -> body; change it between requests to replace a file. */
  files: Map<string, Uint8Array>;
  requests: SeenRequest[];
  /** Answer `Range` requests with 206 (else ignore them and send 200, as many servers do). */
  ranges: boolean;
  /** Cut the next `times` responses for `path` after `after` body bytes. */
  cut(path: string, after: number, times?: number): void;
  /** Requests for `path`. */
  seen(path: string): SeenRequest[];
  close(): Promise<void>;
}

function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

/** Starts a server; `files` maps paths ('/pkg/resdet.json') to bodies. */
export async function startServer(files: Record<string, Uint8Array>, options: { ranges?: boolean } = {}): Promise<TestServer> {
  const cuts = new Map<string, { after: number; times: number }>();
  const state: Omit<TestServer, 'url' | 'close'> = {
    files: new Map(Object.entries(files)),
    requests: [],
    ranges: options.ranges ?? true,
    cut(path, after, times = 1) { cuts.set(path, { after, times }); },
    seen(path) { return state.requests.filter((r) => r.path === path); },
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const seen: SeenRequest = { path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 404, sent: 0 };
    state.requests.push(seen);
    const body = state.files.get(path);
    if (!body) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    const etag = etagOf(body);
    let start = 0;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', etag };
    if (state.ranges) headers['accept-ranges'] = 'bytes';
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (state.ranges && range && (!seen.ifRange || seen.ifRange === etag) && Number(range[1]) < body.byteLength) {
      start = Number(range[1]);
      headers['content-range'] = `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`;
    }
    const rest = body.subarray(start);
    headers['content-length'] = rest.byteLength;
    seen.status = start > 0 ? 206 : 200;
    res.writeHead(seen.status, headers);
    const cut = cuts.get(path);
    if (cut && cut.times > 0) {
      cut.times--;
      seen.sent = Math.min(cut.after, rest.byteLength);
      res.write(rest.subarray(0, seen.sent), () => req.socket.destroy());
      return;
    }
    seen.sent = rest.byteLength;
    res.end(rest);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    get ranges() { return state.ranges; },
    set ranges(v: boolean) { state.ranges = v; },
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
