import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// The seams of ../shared/docs/design.md, checked on the sources' import lines: the
// planner (read, ask the policy, read again) sits above snapshot/ and policy/; state/
// records snapshots and knows no plan; pure policy code reaches no network or process.
const src = fileURLToPath(new URL('../../../src/', import.meta.url));
const importsOf = (dir: string) =>
  readdirSync(join(src, dir))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(src, dir, f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => `${dir}/${f} -> ${m[1]}`));

test('layers: snapshot/ imports no policy or plan; state/ no plan; policy/ no registry client, apply, network or subprocess', () => {
  assert.deepEqual(importsOf('snapshot').filter((l) => /-> \.\.\/(policy|plan|planner)\//.test(l)), []);
  assert.deepEqual(importsOf('state').filter((l) => /-> \.\.\/(plan|planner|apply)\//.test(l)), []);
  assert.deepEqual(importsOf('policy').filter((l) => /-> (\.\.\/(registry\/(client|connect|transport)|apply|commands)|undici|execa|node:(http|https|net|child_process|fs))/.test(l)), []);
});

const sourcesOf = (dir: string) =>
  readdirSync(join(src, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(join(src, dir, f), 'utf8') }));

test('layers: what differs between registries goes through the dialect; no vendor name outside src/registry/', () => {
  const above = ['apply', 'planner', 'commands', 'policy', 'plan', 'snapshot'].flatMap(sourcesOf);
  // Listing repositories, deletes and attachments are the dialect's: a vendor dialect
  // answers them through its own API.
  const direct = above.filter((s) => /\b(client|c)\.(deleteManifest|deleteTag|catalog|referrers)\(/.test(s.text)).map((s) => s.file);
  assert.deepEqual(direct, []);
  // commands/ may name a vendor in advice it prints; the code that decides may not.
  const vendors = above.filter((s) => !s.file.startsWith('commands/')).filter((s) => /\b(ghcr|harbor|gitlab|docker ?hub|quay)\b/i.test(s.text.replace(/^\s*(\/\/|\/?\*).*$/gm, ''))).map((s) => s.file);
  assert.deepEqual(vendors, [], 'policy, plan and apply see capabilities, never a vendor name');
});
