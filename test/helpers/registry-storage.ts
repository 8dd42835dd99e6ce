import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestRegistry } from './registry.js';

/**
 * What a real distribution 2.8's filesystem storage holds, read as vendors' APIs see
 * their own databases: repositories, every manifest of a repository (its revision
 * links: tagged or not), the tags on each. The vendor emulators answer from it.
 */
export function storage(reg: TestRegistry) {
  const root = join(reg.dir, 'data', 'docker', 'registry', 'v2');
  const repoRoot = join(root, 'repositories');
  const manifests = (repo: string) => join(repoRoot, repo, '_manifests');
  return {
    /** Every repository name, sorted. */
    repositories(): string[] {
      const out: string[] = [];
      const walk = (dir: string, prefix: string) => {
        if (!existsSync(dir)) return;
        for (const name of readdirSync(dir).sort()) {
          const p = join(dir, name);
          if (!statSync(p).isDirectory() || name.startsWith('_')) continue;
          const full = prefix ? `${prefix}/${name}` : name;
          if (existsSync(join(p, '_manifests'))) out.push(full);
          walk(p, full);
        }
      };
      walk(repoRoot, '');
      return out;
    },
    /** Digests of the repository's manifests (deleted ones excluded), sorted. */
    digests(repo: string): string[] {
      const revs = join(manifests(repo), 'revisions', 'sha256');
      if (!existsSync(revs)) return [];
      return readdirSync(revs).sort().filter((hex) => existsSync(join(revs, hex, 'link'))).map((hex) => `sha256:${hex}`);
    },
    /** tag -> digest. */
    tags(repo: string): Map<string, string> {
      const dir = join(manifests(repo), 'tags');
      const out = new Map<string, string>();
      if (!existsSync(dir)) return out;
      for (const t of readdirSync(dir).sort()) {
        const link = join(dir, t, 'current', 'link');
        if (existsSync(link)) out.set(t, readFileSync(link, 'utf8').trim());
      }
      return out;
    },
    /** A manifest's bytes. */
    blob(digest: string): Buffer {
      return readFileSync(join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'));
    },
    /** Removes one tag, its manifest staying (as distribution 3's tag delete does). */
    untag(repo: string, tag: string): boolean {
      const dir = join(manifests(repo), 'tags', tag);
      if (!existsSync(join(dir, 'current', 'link'))) return false;
      rmSync(dir, { recursive: true, force: true });
      return true;
    },
  };
}
