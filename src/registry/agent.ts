import type { Agent as UndiciAgent } from 'undici';
import AgentModule from 'undici/lib/dispatcher/agent.js';
import type { RegistryEndpoint } from '../config/model.js';

/**
 * undici's Agent, from its own module: undici's index also loads fetch, WebSocket,
 * cookies and caches, ~105 ms of every network command's start here against ~40 ms for
 * the Agent alone. The client needs only dispatch() and close(), the Agent's own
 * methods. A deep path: test/unit/startup-imports.test.ts checks it is the class undici
 * exports. Imported, not require()d, so that the bundle (scripts/bundle.mjs) holds it.
 */
export const Agent: typeof UndiciAgent = AgentModule;
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
