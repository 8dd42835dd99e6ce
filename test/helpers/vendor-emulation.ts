import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FaultProxy } from './fault-proxy.js';
import type { TestRegistry } from './registry.js';
import { listenLoopback } from './processes.js';

/** What every vendor emulation gives a test: the real registry, its OCI side, the vendor's API. */
export interface VendorEmulation {
  reg: TestRegistry;
  /** The OCI side, a proxy in front of the real registry (with the vendor's refusals). */
  oci: FaultProxy;
  ociUrl: string;
  /** The vendor's REST API base. */
  apiUrl: string;
  /** API calls received, as `METHOD /path?query`. */
  apiLog: string[];
  token: string;
  stop(): Promise<void>;
}

/**
 * A vendor API on a free 127.0.0.1 port of its own: each request's body is read before
 * `handle` runs (it answers from the URL and headers); `close` ends open connections.
 */
export async function startApiServer(handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<{ origin: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      void Promise.resolve(handle(req, res)).catch((e) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(e) }));
      }),
    );
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  const { url: origin } = await listenLoopback(server);
  return {
    origin,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
