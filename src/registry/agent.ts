import { createRequire } from 'node:module';
import type { Agent as UndiciAgent } from 'undici';
import type { RegistryEndpoint } from '../config/model.js';

/**
 * undici's Agent, from its own module: undici's index also loads fetch, WebSocket,
 * cookies and caches, ~105 ms of every network command's start here against ~40 ms for
 * the Agent alone. The client needs only dispatch() and close(), the Agent's own
 * methods. A deep path: test/unit/startup-imports.test.ts checks it is the class undici
 * exports.
 */
export const Agent: typeof UndiciAgent = createRequire(import.meta.url)('undici/lib/dispatcher/agent.js');
export type Agent = UndiciAgent;

/** The agent for one registry's endpoint: its connections, deadlines and TLS choice (CA, insecure). */
export function endpointAgent(endpoint: RegistryEndpoint): Agent {
  return new Agent({
    connections: endpoint.concurrency,
    keepAliveTimeout: 10_000,
    headersTimeout: endpoint.timeoutMs,
    bodyTimeout: endpoint.timeoutMs,
    connect: { rejectUnauthorized: !endpoint.insecure, timeout: Math.min(endpoint.timeoutMs, 10_000), ...(endpoint.ca ? { ca: endpoint.ca.pem } : {}) },
  });
}
