import { createServer, type Server } from 'node:http';
import { createPrivateKey, createSign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { selfSignedCert } from './tls.js';
import { listenLoopback } from './processes.js';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Every request the server got: user (or anonymous) and requested scopes. */
  requests: Array<{ user?: string; scopes: string[]; authorization: boolean }>;
  /** Make the next N token requests fail with this status. */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

/**
 * A Docker token server in plain node: Basic-authenticates the user, grants what it
 * asks for (all of it for a known user, pull only for anonymous), signs ES256 with an
 * x5c header that the registry checks against `rootcertbundle`.
 */
export async function startTokenServer(dir: string, users: Record<string, string>, opts: { anonymousPull?: boolean; grants?: Record<string, string[]> } = {}): Promise<TokenServer> {
  const { cert, key } = selfSignedCert(dir, 'token', 'ec');
  const der = new X509Certificate(readFileSync(cert)).raw.toString('base64');
  const privateKey = createPrivateKey(readFileSync(key));
  const service = 'regmgr-test-registry';
  const issuer = 'regmgr-test-issuer';
  const requests: TokenServer['requests'] = [];
  let failures = { n: 0, status: 500 };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scopes = url.searchParams.getAll('scope');
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (users[u] !== p.join(':')) {
        requests.push({ user: u, scopes, authorization: true });
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      user = u;
    }
    requests.push({ user, scopes, authorization: Boolean(auth) });
    if (failures.n > 0) {
      failures.n--;
      res.writeHead(failures.status).end();
      return;
    }
    if (!user && !opts.anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"authentication required"}');
      return;
    }
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      // A user with grants gets only those actions (a robot account with pull and delete, say).
      const allowed = (a: string) => (user ? (opts.grants?.[user]?.includes(a) ?? true) : a === 'pull');
      return { type, name: rest.join(':'), actions: actions.filter(allowed) };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [der] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 5, iat: now, jti: String(Math.random()), access };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64(header)}.${b64(claims)}`;
    // JWS ES256 wants the raw r||s signature, not DER.
    const sig = createSign('SHA256').update(input).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const token = `${input}.${sig}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  const { url } = await listenLoopback(server);
  return {
    realm: `${url}/token`,
    service,
    issuer,
    certFile: cert,
    requests,
    failNext(n, status) {
      failures = { n, status };
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
