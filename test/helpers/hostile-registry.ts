import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { listenLoopback } from './processes.js';

// A registry server that answers what no honest registry would: invalid names, trickling
// bodies, echoed headers, huge or endless answers. Each test gives the handler; whatever
// it does not handle gets a plain 404. Listens on 127.0.0.1 only.

export type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | void;

export interface HostileRegistry {
  url: string;
  host: string;
  /** Requests seen, as `METHOD /path`. */
  log: string[];
  /** Connections the server has seen closed (by either side). */
  closed: number;
  /** Resolves when the next connection closes. */
  nextClose(): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileRegistry(handler: Handler): Promise<HostileRegistry> {
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  const state = { closed: 0 };
  const server: Server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/' && req.method === 'GET' && !handler(req, res)) {
      if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (handler(req, res) !== true && !res.headersSent) res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      state.closed++;
      waiters.splice(0).forEach((w) => w());
    });
  });
  const { url, host } = await listenLoopback(server);
  return {
    url,
    host,
    log,
    get closed() {
      return state.closed;
    },
    nextClose: () => new Promise<void>((r) => waiters.push(r)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A JSON answer with the registry's headers. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  return true;
}

/** A manifest answer (HEAD or GET) for `bytes`, with its true digest. */
export function manifest(req: IncomingMessage, res: ServerResponse, bytes: Buffer, mediaType = 'application/vnd.oci.image.manifest.v1+json'): true {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  res.writeHead(200, { 'content-type': mediaType, 'docker-content-digest': digest, 'content-length': String(bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
  return true;
}

export const MINIMAL_MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: `sha256:${'0'.repeat(64)}` }, layers: [] }));
