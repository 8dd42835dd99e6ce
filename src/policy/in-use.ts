import { isDigest, repositoryProblem, tagProblem, type Digest } from '../oci/names.js';
import { quoted } from '../util/inert.js';

/**
 * What is deployed, from an input people already have: what `kubectl get pods -A -o
 * json` prints, what `docker inspect` or `docker ps --format '{{json .}}'` prints, or a
 * plain list of image references. Parsing is pure (the caller reads the file); a
 * malformed input is an error, never an empty set: an empty set would let every image go.
 */
export interface InUse {
  /** Which format was recognised. */
  format: 'kubectl' | 'docker-inspect' | 'docker-ps' | 'list';
  /** Digest (manifest or index) -> who uses it, e.g. `pod ns/name container c`. */
  digests: Map<Digest, string>;
  /** `host/repository:tag` -> who uses it (a reference by tag, no digest known). */
  refs: Map<string, string>;
  /** How many references were read. */
  entries: number;
}

export class InUseError extends Error {}

const HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `host/repository:tag` as used for matching; Docker Hub's many names become docker.io. */
export function refKey(host: string, repository: string, tag: string): string {
  return `${HUB.has(host) ? 'docker.io' : host}/${repository}:${tag}`;
}

interface Ref {
  host: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

/** Parses a reference as Docker does (`[host/]repo[:tag][@digest]`); undefined with why. */
export function parseReference(raw: string): Ref | string {
  let s = raw.trim();
  // kubelet with dockershim prefixes the pull reference.
  s = s.replace(/^docker-pullable:\/\//, '').replace(/^docker:\/\//, '');
  if (isDigest(s)) return { host: '', repository: '', digest: s };
  let digest: Digest | undefined;
  const at = s.indexOf('@');
  if (at >= 0) {
    const d = s.slice(at + 1);
    if (!isDigest(d)) return `${quoted(d)} is not a sha256 digest`;
    digest = d;
    s = s.slice(0, at);
  }
  const slash = s.indexOf('/');
  const first = slash >= 0 ? s.slice(0, slash) : '';
  let host = 'docker.io';
  let rest = s;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    host = first;
    rest = s.slice(slash + 1);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const tp = tagProblem(tag);
    if (tp) return tp;
  }
  if (HUB.has(host) && !rest.includes('/')) rest = `library/${rest}`;
  const rp = repositoryProblem(rest);
  if (rp) return `repository ${quoted(rest)} ${rp}`;
  if (!tag && !digest) tag = 'latest';
  return { host, repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Parses an in-use input; `file` names it in errors. One that names no image is an error too. */
export function parseInUse(file: string, text: string): InUse {
  const out = parseAny(file, text);
  if (!out.entries) throw new InUseError(`${file}: names no image (read as ${out.format}): an in-use input must list what is deployed; an empty one would let every image be deleted`);
  return out;
}

function parseAny(file: string, text: string): InUse {
  const out: InUse = { format: 'list', digests: new Map(), refs: new Map(), entries: 0 };
  const add = (raw: unknown, who: string, where: string) => {
    if (typeof raw !== 'string' || !raw) return;
    const r = parseReference(raw);
    if (typeof r === 'string') throw new InUseError(`${file}: ${where}: ${quoted(raw)} is not an image reference: ${r}`);
    out.entries++;
    if (r.digest && !out.digests.has(r.digest)) out.digests.set(r.digest, who);
    if (r.tag && r.host) {
      const k = refKey(r.host, r.repository, r.tag);
      if (!out.refs.has(k)) out.refs.set(k, who);
    }
  };
  const trimmed = text.trim();
  if (!trimmed) throw new InUseError(`${file}: empty: an in-use input must list what is deployed (an empty list would let every image be deleted)`);
  let json: unknown;
  let isJson = false;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      json = JSON.parse(trimmed);
      isJson = true;
    } catch {
      isJson = false;
    }
  }
  if (isJson && json && typeof json === 'object' && !Array.isArray(json)) {
    const list = json as { kind?: unknown; items?: unknown };
    if (!Array.isArray(list.items)) throw new InUseError(`${file}: a JSON object without "items": expected the output of kubectl get pods -A -o json`);
    out.format = 'kubectl';
    list.items.forEach((pod: any, i: number) => {
      const where = `items[${i}]`;
      if (!pod || typeof pod !== 'object') throw new InUseError(`${file}: ${where} is not an object`);
      const ns = typeof pod.metadata?.namespace === 'string' ? pod.metadata.namespace : 'default';
      const name = typeof pod.metadata?.name === 'string' ? pod.metadata.name : `#${i}`;
      for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
        const cs = pod.spec?.[key];
        if (Array.isArray(cs)) cs.forEach((c: any, j: number) => add(c?.image, `pod ${ns}/${name} container ${c?.name ?? j}`, `${where}.spec.${key}[${j}].image`));
      }
      for (const key of ['containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses']) {
        const cs = pod.status?.[key];
        if (!Array.isArray(cs)) continue;
        cs.forEach((c: any, j: number) => {
          const who = `pod ${ns}/${name} container ${c?.name ?? j}`;
          add(c?.image, who, `${where}.status.${key}[${j}].image`);
          // imageID is what actually runs: the digest the node pulled (index or platform).
          if (typeof c?.imageID === 'string' && c.imageID) add(c.imageID, who, `${where}.status.${key}[${j}].imageID`);
        });
      }
    });
    return out;
  }
  if (isJson && Array.isArray(json)) {
    out.format = 'docker-inspect';
    json.forEach((c: any, i: number) => {
      if (!c || typeof c !== 'object') throw new InUseError(`${file}: [${i}] is not an object`);
      const who = `container ${typeof c.Name === 'string' ? c.Name.replace(/^\//, '') : `#${i}`}`;
      // Image is the local image ID (a config digest), not a registry digest: the
      // reference the container was created from is what names the registry image.
      add(c.Config?.Image, who, `[${i}].Config.Image`);
      if (Array.isArray(c.RepoDigests)) c.RepoDigests.forEach((d: unknown, j: number) => add(d, who, `[${i}].RepoDigests[${j}]`));
    });
    return out;
  }
  const lines = text.split('\n');
  if (trimmed.startsWith('{')) {
    out.format = 'docker-ps';
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let c: any;
      try {
        c = JSON.parse(line);
      } catch {
        throw new InUseError(`${file}:${i + 1}: not JSON (expected docker ps --format '{{json .}}', one container per line)`);
      }
      add(c?.Image, `container ${typeof c?.Names === 'string' ? c.Names : `#${i + 1}`}`, `line ${i + 1}`);
    });
    return out;
  }
  lines.forEach((line, i) => {
    const s = line.replace(/#.*$/, '').trim();
    if (s) add(s, `${file}:${i + 1}`, `line ${i + 1}`);
  });
  return out;
}
