import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryEndpoint } from './model.js';
import { Credentials, Secret } from '../util/secret.js';

/**
 * Credentials for a registry, in the order a user expects: the config's password, then
 * the containers/docker auth files (the same ones skopeo and docker read), else none
 * (anonymous). Reading is deferred to the commands that talk to registries, so that
 * `validate` never runs a credential helper.
 */
export async function resolveCredentials(ep: RegistryEndpoint, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  if (ep.configured?.password) {
    return { username: ep.configured.username, password: ep.configured.password, source: 'config' };
  }
  for (const file of authFiles(env)) {
    const found = await fromAuthFile(file, ep.host, env);
    if (found) {
      if (ep.configured?.username && found.username !== ep.configured.username) continue;
      return found;
    }
  }
  return undefined;
}

export function authFiles(env: NodeJS.ProcessEnv): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = env.HOME ?? homedir();
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  files.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return files;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Auth-file keys may carry a scheme or path (`https://host/v1/`); compare hosts only. */
function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

const DOCKER_HUB = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

function sameHost(key: string, host: string): boolean {
  const k = keyHost(key);
  return k === host || (DOCKER_HUB.includes(k) && DOCKER_HUB.includes(host));
}

async function fromAuthFile(file: string, host: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  let parsed: AuthFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`auth file ${file} cannot be read: ${(e as Error).message}`);
  }
  const helper = Object.entries(parsed.credHelpers ?? {}).find(([k]) => sameHost(k, host))?.[1];
  if (helper) return fromHelper(helper, host, file, env);
  const entry = Object.entries(parsed.auths ?? {}).find(([k]) => sameHost(k, host))?.[1];
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: new Secret(decoded.slice(colon + 1)), source: file };
  }
  if (entry?.username && entry.password) return { username: entry.username, password: new Secret(entry.password), source: file };
  if (parsed.credsStore) return fromHelper(parsed.credsStore, host, file, env);
  return undefined;
}

/** docker-credential-<name> get: host on stdin, JSON {Username, Secret} on stdout. */
async function fromHelper(name: string, host: string, file: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const bin = `docker-credential-${name}`;
  // The helper is found on the PATH the command was given. execa is loaded only here: it
  // costs every other command 16 MiB and 0.1 s of start-up.
  const { execa } = await import('execa');
  const res = await execa(bin, ['get'], { input: host, reject: false, timeout: 30_000, env: { PATH: env.PATH ?? process.env.PATH } });
  if (res.exitCode !== 0) {
    // Helpers answer "credentials not found" for unknown hosts: that is absence, not failure.
    if (/not found/i.test(String(res.stdout) + String(res.stderr))) return undefined;
    throw new Error(`credential helper ${bin} (from ${file}) failed for ${host}: exit ${res.exitCode}`);
  }
  const out = JSON.parse(String(res.stdout)) as { Username?: string; Secret?: string };
  if (!out.Secret) return undefined;
  return { username: out.Username ?? '', password: new Secret(out.Secret), source: `${file} (${bin})` };
}
