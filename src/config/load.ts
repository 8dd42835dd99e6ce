import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { RegmgrConfig, Registry, TagRules as RawTagRules } from './types.generated.js';
import { ConfigError, ConfigIssue, dotted } from './errors.js';
import { parseYaml, YamlSource } from './yaml-source.js';
import { schemaIssues } from './schema-check.js';
import { interpolate } from './interpolate.js';
import type { Config, DeletePolicy, Duration, RegistryEndpoint, ReplaceRule, RetentionRule, SyncPolicy } from './model.js';
import { compileRegex, parseKeys, regexSources, type CompiledRegex, type TagRules } from '../policy/matchers.js';
import { parseSelector, repositoryProblem, type RepoSelector } from '../oci/names.js';
import { Secret } from '../util/secret.js';
import { quoted } from '../util/inert.js';
import { mapRepository } from '../policy/sync.js';

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_TIMEOUT_S = 30;
/** The state file's name before it was named after its config; still found and used. */
export const DEFAULT_STATE_FILE = 'regmgr.state.json';

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** `36h`, `30d`, `2w` (the schema checked the form). */
export function parseDuration(text: string): Duration {
  return { text, ms: Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS] };
}

/** A repository glob: `*` within one path segment, `**` across segments; anchored. */
export function globRegex(glob: string): CompiledRegex {
  const body = glob
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  const re = new RegExp(`^${body}$`);
  return { source: glob, test: (s: string) => re.test(s) };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
/** Tags one repository may list (and repositories a catalog may list) unless the config says otherwise. */
export const DEFAULT_MAX_TAGS = 2_000_000;

export interface ConfigOverrides {
  /** `--state FILE`: beats the config's `state.path`. */
  statePath?: string;
  /** Where to tell the user about how the config was read (an old state file name...). */
  notice?: (message: string) => void;
  /** false: the command sends no request (state show/list), so unset ${VAR}s in credentials are no error. */
  credentials?: boolean;
}

/** Reads, validates and normalises a config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const config = readConfigFile(file, env, overrides.credentials ?? true);
  if (overrides.statePath) return { ...config, statePath: resolve(overrides.statePath), stateBackend: { kind: 'file' }, notices: [] };
  for (const n of config.notices ?? []) overrides.notice?.(n);
  return config;
}

function readConfigFile(file: string, env: NodeJS.ProcessEnv, credentials: boolean): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConfigError([{ file, path: '', message: `cannot read config: ${why}` }]);
  }
  return parseConfig(file, text, env, credentials);
}

export function parseConfig(file: string, text: string, env: NodeJS.ProcessEnv = process.env, credentials = true): Config {
  const { source, issues } = parseYaml(file, text);
  if (!source) throw new ConfigError(issues);
  if (source.data === null || source.data === undefined) {
    throw new ConfigError([{ file, path: '', message: 'the file is empty; it needs at least a `registries:` section' }]);
  }
  // Credentials written as numbers (`password: 0123`) are the text as written, never a number.
  const registries = (source.data as { registries?: unknown }).registries;
  if (registries && typeof registries === 'object' && !Array.isArray(registries)) {
    for (const [name, reg] of Object.entries(registries)) {
      for (const field of ['username', 'password'] as const) {
        if (reg && typeof reg === 'object' && typeof (reg as Record<string, unknown>)[field] === 'number') {
          (reg as Record<string, unknown>)[field] = source.sourceOf(['registries', name, field]) ?? String((reg as Record<string, unknown>)[field]);
        }
      }
    }
  }
  // ${VAR} works in every string value (write $${ for a literal ${), before any check.
  const unset = interpolateTree(source, env).filter((i) => credentials || !/^registries\.[^.]+\.(username|password)$/.test(i.path));
  if (unset.length) throw new ConfigError(unset);
  const schema = schemaIssues(source);
  if (schema.length) throw new ConfigError(schema);
  return new Normaliser(source, env).run(file);
}

/** Replaces ${VAR} in every string value of the config, in place; returns the unset ones. */
function interpolateTree(src: YamlSource, env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const { value, missing } = interpolate(v, env);
      for (const m of missing) issues.push({ file: src.file, path: dotted(path), line: src.lineOf(path), message: m ? `environment variable ${m} is not set` : 'invalid ${...} reference (use ${NAME}, or $${ for a literal ${)' });
      return value;
    }
    if (Array.isArray(v)) v.forEach((x, i) => (v[i] = walk(x, [...path, i])));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (v as Record<string, unknown>)[k] = walk(x, [...path, k]);
    return v;
  };
  walk(src.data, []);
  return issues;
}

class Normaliser {
  readonly issues: ConfigIssue[] = [];
  readonly raw: RegmgrConfig;
  constructor(
    readonly src: YamlSource,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.raw = src.data as RegmgrConfig;
  }

  problem(path: Array<string | number>, message: string) {
    this.issues.push({ file: this.src.file, path: dotted(path), line: this.src.lineOf(path), message });
  }

  run(file: string): Config {
    const registries = new Map<string, RegistryEndpoint>();
    for (const name of Object.keys(this.raw.registries)) {
      // `constructor`, `toString`...: legal identifiers, but keys that plain objects built
      // from plan or state data would answer for themselves.
      if (name in Object.prototype) this.problem(['registries', name], `registry name ${quoted(name)} is reserved; choose another`);
    }
    for (const [name, reg] of Object.entries(this.raw.registries)) {
      const ep = this.registry(name, reg);
      if (ep) registries.set(name, ep);
    }
    const names = Object.keys(this.raw.registries);
    const deletePolicy = this.deletePolicy(names);
    const syncPolicy = this.syncPolicy(names);
    if (this.issues.length) throw new ConfigError(this.issues);
    // The state is named after the config (registry.yml: registry.state.json), so two
    // configs in one folder never share one; an old regmgr.state.json is still used, noted.
    const dir = dirname(resolve(file));
    const named = `${basename(file).replace(/\.(ya?ml|json)$/i, '')}.state.json`;
    const notices: string[] = [];
    let stateRel = this.raw.state?.path ?? named;
    if (!this.raw.state?.path && !existsSync(resolve(dir, named)) && existsSync(resolve(dir, DEFAULT_STATE_FILE))) {
      stateRel = DEFAULT_STATE_FILE;
      notices.push(`using ${DEFAULT_STATE_FILE} beside ${file}, the old default name; rename it to ${named} (the state is now named after its config), or set state.path: ${DEFAULT_STATE_FILE}`);
    }
    const st = this.raw.state;
    let stateBackend: Config['stateBackend'] = { kind: 'file' };
    if (st?.backend === 'pg') stateBackend = { kind: 'pg', workspace: st.workspace ?? basename(file).replace(/\.(ya?ml|json)$/i, ''), connectionEnv: st['connection-env'] ?? 'REGMGR_PG_CONN' };
    else if (st?.workspace || st?.['connection-env']) this.problem(['state', st.workspace ? 'workspace' : 'connection-env'], 'is for backend: pg only');
    if (this.issues.length) throw new ConfigError(this.issues);
    return { file, registries, deletePolicy, syncPolicy, statePath: resolve(dir, stateRel), stateBackend, notices };
  }

  registry(name: string, reg: Registry): RegistryEndpoint | undefined {
    const base = ['registries', name];
    const url = this.parseUrl([...base, 'registry'], reg.registry);
    const repositories = reg.repositories == null ? undefined : this.selectors([...base, 'repositories'], reg.repositories);
    const username = reg.username == null || reg.username === '' ? undefined : String(reg.username);
    const password = reg.password == null || reg.password === '' ? undefined : String(reg.password);
    if (password !== undefined && !username) this.problem([...base, 'password'], 'a password needs a username');
    const ca = reg['ca-file'] ? this.caFile([...base, 'ca-file'], reg['ca-file']) : undefined;
    if (ca && url?.protocol === 'http:') this.problem([...base, 'ca-file'], 'a CA file is for TLS; this registry is plain http://');
    if (!url) return undefined;
    // GHCR cannot delete through its OCI API: its own API is the only way there.
    const kind = reg.kind ?? (url.hostname === 'ghcr.io' ? 'ghcr' : url.hostname === 'registry.gitlab.com' ? 'gitlab' : 'oci');
    // A vendor API lives under a path (/api/v4, /api/v2.0).
    const api = reg.api === undefined ? undefined : this.parseUrl([...base, 'api'], reg.api, { path: true });
    if (reg.api !== undefined && kind === 'oci') this.problem([...base, 'api'], 'is for kind: harbor, ghcr or gitlab');
    if (reg.owner !== undefined && kind !== 'ghcr' && kind !== 'gitlab') this.problem([...base, 'owner'], 'is for kind: ghcr or gitlab');
    if (kind === 'ghcr' && reg.owner?.includes('/')) this.problem([...base, 'owner'], 'a GitHub user or organisation has no / in its name');
    if (kind === 'ghcr' && !repositories && !reg.owner) this.problem([...base, 'owner'], 'kind ghcr lists repositories through the owner\'s packages (GHCR has no catalog): set owner, or list repositories');
    if (kind === 'gitlab' && !repositories && !reg.owner) this.problem([...base, 'owner'], 'kind gitlab lists the repositories of a group or project: set owner (its full path), or list repositories');
    if (kind === 'gitlab' && reg.api === undefined && url.hostname !== 'registry.gitlab.com') this.problem([...base, 'api'], "kind gitlab needs GitLab's API base (https://GITLAB-HOST/api/v4): the registry's host is not GitLab's");
    return {
      name,
      kind,
      ...(api ? { api: api.href.replace(/\/$/, '') } : kind === 'gitlab' ? { api: 'https://gitlab.com/api/v4' } : {}),
      ...(reg.owner ? { owner: reg.owner } : {}),
      ...(ca ? { ca } : {}),
      origin: url.origin,
      host: url.host,
      plainHttp: url.protocol === 'http:',
      insecure: reg.insecure ?? false,
      concurrency: reg.concurrency ?? DEFAULT_CONCURRENCY,
      // Decimal seconds are fine (1.5); the HTTP layer wants whole milliseconds.
      timeoutMs: Math.max(1, Math.round((reg.timeout ?? DEFAULT_TIMEOUT_S) * 1000)),
      maxTags: reg['max-tags'] ?? DEFAULT_MAX_TAGS,
      // auto: oci where the plan's probe finds tag delete, else untag (which works wherever manifest deletion does).
      tagDelete: reg['tag-delete'] ?? 'auto',
      allowEmpty: reg['allow-empty-repository'] ?? false,
      reclaimScope: reg['reclaim-scope'] === 'registry' ? 'registry' : 'repositories',
      repositories,
      configured: username ? { username, password: password === undefined ? undefined : new Secret(password) } : undefined,
    };
  }

  parseUrl(path: Array<string | number>, raw: string, opts: { path?: boolean } = {}): URL | undefined {
    const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
    // Never echo credentials or a query (`?access_token=`) in a message.
    const shown = quoted(raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1<credentials>@').replace(/\?.*$/s, '?<redacted>'));
    if (/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i.test(raw)) {
      this.problem(path, `${shown}: the URL contains credentials; put them in username/password (or \${VAR}) instead`);
      return undefined;
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      this.problem(path, `${shown} is not a URL (expected https://host[:port] or http://host[:port])`);
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      this.problem(path, `scheme '${url.protocol}' is not supported (use https:// or http://)`);
      return undefined;
    }
    if (url.username || url.password) {
      // Never echo the URL itself: it holds a password.
      this.problem(path, 'the URL contains credentials; put them in username/password (or ${VAR}) instead');
      return undefined;
    }
    if (opts.path && !url.search && !url.hash) return url;
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
      this.problem(path, `${shown} has a path, query or fragment; give only scheme, host and port`);
      return undefined;
    }
    return url;
  }

  caFile(path: Array<string | number>, raw: string): { file: string; pem: string } | undefined {
    const file = resolve(dirname(resolve(this.src.file)), raw);
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (e) {
      this.problem(path, `cannot read ${quoted(file)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      return undefined;
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      this.problem(path, `${quoted(file)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      return undefined;
    }
    return { file, pem };
  }

  selectors(path: Array<string | number>, entries: string[]): RepoSelector[] {
    const out: RepoSelector[] = [];
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      const sel = parseSelector(entry.trim());
      if ('problem' in sel) return this.problem([...path, i], sel.problem);
      if (seen.has(entry.trim())) return this.problem([...path, i], `'${entry}' is listed twice`);
      seen.add(entry.trim());
      out.push(sel);
    });
    return out;
  }

  knownRegistry(path: Array<string | number>, name: string, names: string[]) {
    if (!names.includes(name)) {
      const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
      this.problem(path, `unknown registry '${name}'${near ? ` (names are case-sensitive: did you mean '${near}'?)` : ''}; known: ${names.join(', ')}`);
    }
  }

  tagRules(path: Array<string | number>, raw: RawTagRules | undefined): TagRules {
    return { keys: parseKeys(raw?.keys), regex: this.regexes([...path, 'regex'], raw?.regex) };
  }

  regexes(path: Array<string | number>, raw: string | string[] | null | undefined): CompiledRegex[] {
    const out: CompiledRegex[] = [];
    const list = regexSources(raw);
    list.forEach((source, i) => {
      const r = compileRegex(source);
      const at = Array.isArray(raw) ? [...path, i] : path;
      if ('error' in r) this.problem(at, `invalid regular expression /${source}/: ${r.error} (RE2 syntax: no lookaround or backreferences)`);
      else out.push(r);
    });
    return out;
  }

  rules(raw: NonNullable<NonNullable<RegmgrConfig['delete-policy']>['rules']>): RetentionRule[] {
    const out: RetentionRule[] = [];
    raw.forEach((r, i) => {
      const path = ['delete-policy', 'rules', i];
      const tags = this.tagRules([...path, 'tags'], r.tags);
      if (!tags.keys.length && !tags.regex.length) this.problem([...path, 'tags'], 'empty selector: give keys or regex, as in include');
      if (r['keep-newest'] === undefined && r['keep-within'] === undefined) this.problem(path, 'a rule keeps something: give keep-newest, keep-within or both');
      const rule: RetentionRule = {
        number: i + 1,
        tags,
        ...(r.repositories ? { repositories: r.repositories.map(globRegex) } : {}),
        ...(r['keep-newest'] !== undefined ? { keepNewest: r['keep-newest'] } : {}),
        ...(r['keep-within'] ? { keepWithin: parseDuration(r['keep-within']) } : {}),
      };
      // A rule with an earlier rule's selector over the same repositories can never claim a tag.
      const same = (a: RetentionRule) => sameSet(a.tags.keys, tags.keys) && sameSet(a.tags.regex.map((x) => x.source), tags.regex.map((x) => x.source));
      const shadow = out.find((a) => same(a) && (!a.repositories || (r.repositories && sameSet(a.repositories.map((x) => x.source), rule.repositories!.map((x) => x.source)))));
      if (shadow && (tags.keys.length || tags.regex.length)) this.problem([...path, 'tags'], `rule ${i + 1} can never claim a tag: rule ${shadow.number} has the same selector and comes first`);
      out.push(rule);
    });
    return out;
  }

  /** A sync within one registry must rename every repository it copies, or it copies onto itself. */
  selfSync(registry: string, replace: ReplaceRule[]) {
    const explicit = this.raw.registries[registry]?.repositories;
    const onItself = explicit
      ? [...new Set(explicit.map((e) => parseSelector(e.trim())).flatMap((s) => ('repository' in s ? [s.repository] : [])))].filter((r) => mapRepository(r, replace) === r)
      : replace.some((r) => r.old === '' && r.new) ? [] : ['(any repository of the catalog that no replace rule renames)'];
    if (onItself.length) this.problem(['sync-policy', 'to'], `syncs registry '${registry}' to itself, and replace maps ${onItself.join(', ')} onto itself: add a replace rule that renames it`);
  }

  deletePolicy(names: string[]): DeletePolicy | undefined {
    const p = this.raw['delete-policy'];
    if (!p) return undefined;
    const seen = new Set<string>();
    p.registries.forEach((n, i) => {
      this.knownRegistry(['delete-policy', 'registries', i], n, names);
      if (seen.has(n)) this.problem(['delete-policy', 'registries', i], `'${n}' is listed twice`);
      seen.add(n);
    });
    return {
      registries: [...seen],
      start: p.start ?? 0,
      dryRun: p['dry-run'] ?? true,
      mixCount: p['mix-count'] ?? 10,
      ...(p['keep-within'] ? { keepWithin: parseDuration(p['keep-within']) } : {}),
      rules: this.rules(p.rules ?? []),
      semVer: p['sem-ver'] ?? false,
      include: this.tagRules(['delete-policy', 'tags', 'include'], p.tags?.include),
      exclude: this.tagRules(['delete-policy', 'tags', 'exclude'], p.tags?.exclude),
      allowEmpty: p['allow-empty-repository'] ?? false,
      keepInUse: (typeof p['keep-in-use'] === 'string' ? [p['keep-in-use']] : (p['keep-in-use'] ?? [])).map((f) => resolve(dirname(resolve(this.src.file)), f)),
    };
  }

  syncPolicy(names: string[]): SyncPolicy | undefined {
    const p = this.raw['sync-policy'];
    if (!p) return undefined;
    this.knownRegistry(['sync-policy', 'from'], p.from, names);
    this.knownRegistry(['sync-policy', 'to'], p.to, names);
    const replace: ReplaceRule[] = [];
    (p.replace ?? []).forEach((r, i) => {
      const rule = { old: (r.old ?? '').replace(/^\/+|\/+$/g, ''), new: (r.new ?? '').replace(/^\/+|\/+$/g, '') };
      for (const field of ['old', 'new'] as const) {
        const problem = rule[field] ? repositoryProblem(rule[field]) : undefined;
        if (problem) this.problem(['sync-policy', 'replace', i, field], `'${rule[field]}' ${problem}`);
      }
      replace.push(rule);
    });
    if (p.from === p.to) this.selfSync(p.from, replace);
    return {
      from: p.from,
      to: p.to,
      start: p.start ?? 0,
      dryRun: p['dry-run'] ?? true,
      force: p.force ?? false,
      replace,
      filters: this.regexes(['sync-policy', 'filters'], p.filters ?? []),
      prune: p.prune ?? false,
      allowEmpty: p['allow-empty-repository'] ?? false,
    };
  }
}
