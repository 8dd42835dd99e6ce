import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { startRegistry, type RegistryOptions, type TestRegistry } from './registry.js';
import { listenLoopback } from './processes.js';

/** What the proxy does with a matching request instead of (or before) forwarding it. */
export type Fault =
  | { status: number; headers?: Record<string, string>; body?: string | ((req: IncomingMessage) => string) }
  | { drop: true }
  | { delayMs: number }
  /**
   * Runs `action` (another client at work: a re-tag, a push), then forwards the request;
   * with `dropAnswer`, the registry carries it out but the client's connection is cut
   * instead of answered (a reply lost in transit); with `dropRequest`, the request never
   * reaches the registry (the client was killed before it was sent, say).
   */
  | { before: (req: IncomingMessage) => Promise<void>; dropAnswer?: boolean; dropRequest?: boolean }
  /** Answers the request itself (an emulated API in front of the real registry). */
  | { respond: (req: IncomingMessage, res: ServerResponse) => void }
  | { rewrite: (res: { status: number; headers: Record<string, any>; body: Buffer }, req: IncomingMessage) => { status: number; headers: Record<string, any>; body: Buffer } };

interface Rule {
  match: (req: IncomingMessage) => boolean;
  fault: Fault;
  times: number;
}

export interface FaultProxy {
  url: string;
  host: string;
  /** Requests seen, as `METHOD /path?query`. */
  log: string[];
  /** Requests the registry itself answered, as `METHOD /path?query -> STATUS`. */
  answered: string[];
  /** Client connections accepted so far. */
  readonly connections: number;
  /** Adds a fault for the next `times` matching requests (Infinity for all). */
  inject(match: (req: IncomingMessage) => boolean, fault: Fault, times?: number): void;
  clear(): void;
  count(pred: (line: string) => boolean): number;
  close(): Promise<void>;
}

/**
 * A plain-HTTP proxy on 127.0.0.1 in front of a real registry: forwards everything
 * unchanged except what a test asks it to break. The registry's Location and Link
 * headers name the proxy's origin, so clients stay on it.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const rules: Rule[] = [];
  const log: string[] = [];
  const answered: string[] = [];
  const sockets = new Set<Socket>();
  const t = new URL(target);

  const forward = (req: IncomingMessage, res: ServerResponse, rewrite?: Extract<Fault, { rewrite: unknown }>['rewrite'], dropAnswer = false) => {
    // The client's Host passes through, as through a reverse proxy: the registry then
    // builds its absolute URLs (upload Locations) on the proxy's origin.
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      const chunks: Buffer[] = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        answered.push(`${req.method} ${req.url} -> ${ur.statusCode}`);
        if (dropAnswer) return void req.socket.destroy();
        let out: { status: number; headers: Record<string, any>; body: Buffer } = { status: ur.statusCode ?? 502, headers: { ...ur.headers }, body: Buffer.concat(chunks) };
        if (rewrite) out = rewrite(out, req);
        if (req.method !== 'HEAD') out.headers['content-length'] = String(out.body.length);
        delete out.headers['transfer-encoding'];
        res.writeHead(out.status, out.headers);
        res.end(req.method === 'HEAD' ? undefined : out.body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server: Server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    const rule = rules.find((r) => r.times > 0 && r.match(req));
    if (!rule) return forward(req, res);
    rule.times--;
    const f = rule.fault;
    if ('drop' in f) {
      req.socket.destroy();
      return;
    }
    if ('delayMs' in f) {
      setTimeout(() => forward(req, res), f.delayMs);
      return;
    }
    if ('rewrite' in f) return forward(req, res, f.rewrite);
    if ('respond' in f) return f.respond(req, res);
    if ('before' in f) {
      // Hold the request body until the action is done, then forward it unchanged.
      req.pause();
      f.before(req).then(
        () => (f.dropRequest ? void req.socket.destroy() : forward(req, res, undefined, f.dropAnswer)),
        (e) => {
          console.error(`fault proxy: before-action failed: ${(e as Error).stack}`);
          res.destroy();
        },
      );
      return;
    }
    req.resume();
    res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
    res.end((typeof f.body === 'function' ? f.body(req) : f.body) ?? JSON.stringify({ errors: [{ code: 'INJECTED', message: `fault proxy: ${f.status}` }] }));
  });
  // Idle connections stay open as long as a registry's would: a client's reuse is what counts.
  server.keepAliveTimeout = 60_000;
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { url, host } = await listenLoopback(server);
  return {
    url,
    host,
    log,
    answered,
    get connections() {
      return connections;
    },
    inject(match, fault, times = 1) {
      rules.push({ match, fault, times });
    },
    clear() {
      rules.length = 0;
    },
    count: (pred) => log.filter(pred).length,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A real registry with a fault proxy in front of it; stop() ends both. */
export async function startProxiedRegistry(opts: RegistryOptions = {}): Promise<{ reg: TestRegistry; proxy: FaultProxy; stop(): Promise<void> }> {
  const reg = await startRegistry(opts);
  const proxy = await startFaultProxy(reg.url);
  return {
    reg,
    proxy,
    async stop() {
      await proxy.close();
      await reg.stop();
    },
  };
}
