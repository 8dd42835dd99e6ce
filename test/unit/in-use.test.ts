import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInUse, parseReference, refKey, InUseError } from '../../src/policy/in-use.js';
import { decideDelete } from '../../src/policy/delete.js';
import type { DeletePolicy } from '../../src/config/model.js';
import type { Digest, Repository } from '../../src/oci/names.js';
import { compileRegex, type CompiledRegex } from '../../src/policy/matchers.js';

const D = (c: string) => `sha256:${c.repeat(64)}` as Digest;

test('references parse as Docker reads them: default host and library/, tag and digest, kubelet prefixes', () => {
  assert.deepEqual(parseReference('nginx'), { host: 'docker.io', repository: 'library/nginx', tag: 'latest' });
  assert.deepEqual(parseReference('127.0.0.1:5000/team/app:v1'), { host: '127.0.0.1:5000', repository: 'team/app', tag: 'v1' });
  assert.deepEqual(parseReference(`docker-pullable://ghcr.io/o/app@${D('a')}`), { host: 'ghcr.io', repository: 'o/app', digest: D('a') });
  assert.deepEqual(parseReference(D('b')), { host: '', repository: '', digest: D('b') });
  assert.match(String(parseReference('x/app@sha256:zz')), /is not a sha256 digest/);
  assert.equal(refKey('registry-1.docker.io', 'library/nginx', 'latest'), 'docker.io/library/nginx:latest');
});

test('kubectl get pods -A -o json: containers, init and ephemeral containers, by imageID digest and by image reference', () => {
  const pods = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        metadata: { namespace: 'shop', name: 'web-1' },
        spec: { containers: [{ name: 'web', image: 'reg.example/shop/web:v2' }], initContainers: [{ name: 'migrate', image: 'reg.example/shop/migrate:v1' }] },
        status: {
          containerStatuses: [{ name: 'web', image: 'reg.example/shop/web:v2', imageID: `reg.example/shop/web@${D('a')}` }],
          initContainerStatuses: [{ name: 'migrate', image: 'reg.example/shop/migrate:v1', imageID: `docker-pullable://reg.example/shop/migrate@${D('b')}` }],
          ephemeralContainerStatuses: [{ name: 'debug', image: 'busybox', imageID: `docker.io/library/busybox@${D('c')}` }],
        },
      },
    ],
  };
  const u = parseInUse('pods.json', JSON.stringify(pods));
  assert.equal(u.format, 'kubectl');
  assert.equal(u.digests.get(D('a')), 'pod shop/web-1 container web');
  assert.equal(u.digests.get(D('b')), 'pod shop/web-1 container migrate');
  assert.equal(u.digests.get(D('c')), 'pod shop/web-1 container debug');
  assert.equal(u.refs.get('reg.example/shop/web:v2'), 'pod shop/web-1 container web');
});

test('docker inspect, docker ps JSON lines, and a plain list are read; Image (a local image ID) is not taken for a registry digest', () => {
  const inspect = parseInUse('c.json', JSON.stringify([{ Name: '/api', Image: `sha256:${'f'.repeat(64)}`, Config: { Image: 'reg.example/api:v3' } }]));
  assert.equal(inspect.format, 'docker-inspect');
  assert.equal(inspect.refs.get('reg.example/api:v3'), 'container api');
  assert.equal(inspect.digests.size, 0);
  const ps = parseInUse('ps.jsonl', `{"Image":"reg.example/api:v3","Names":"api"}\n{"Image":"reg.example/db@${D('d')}","Names":"db"}\n`);
  assert.equal(ps.format, 'docker-ps');
  assert.equal(ps.digests.get(D('d')), 'container db');
  const list = parseInUse('in-use.txt', `# what runs\nreg.example/api:v3\n\nreg.example/db@${D('e')}  # pinned\n`);
  assert.equal(list.format, 'list');
  assert.equal(list.refs.get('reg.example/api:v3'), 'in-use.txt:2');
  assert.equal(list.digests.get(D('e')), 'in-use.txt:4');
});

test('an input that is empty, names nothing, or holds a bad reference is an error naming the file and where', () => {
  assert.throws(() => parseInUse('e.json', ''), (e: Error) => e instanceof InUseError && /e\.json: empty/.test(e.message));
  assert.throws(() => parseInUse('p.json', '{"kind":"List","items":[]}'), /p\.json: names no image \(read as kubectl\)/);
  assert.throws(() => parseInUse('p.json', '{"kind":"Pod"}'), /p\.json: a JSON object without "items"/);
  assert.throws(() => parseInUse('l.txt', 'ok.example/a:v1\nBAD REF\n'), /l\.txt: line 2: 'BAD REF' is not an image reference/);
  assert.throws(() => parseInUse('ps.jsonl', '{"Image":"a"}\n{not json\n'), /ps\.jsonl:2: not JSON/);
});

const re = (s: string) => compileRegex(s) as CompiledRegex;
const policy: DeletePolicy = { registries: ['r'], start: 0, dryRun: true, mixCount: 0, rules: [], semVer: false, include: { keys: [], regex: [re('.')] }, exclude: { keys: [], regex: [] }, allowEmpty: false, keepInUse: [] };
const IMG = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const whole = { whole: true, explicit: new Set<string>() };
const repo = { repository: 'app' as Repository, tags: [
  { tag: 'latest', digest: D('1'), mediaType: IMG },
  { tag: 'v1', digest: D('2'), mediaType: IMG },
  { tag: 'v2', digest: D('3'), mediaType: INDEX },
  { tag: 'v3', digest: D('4'), mediaType: IMG },
  { tag: 'dev', digest: D('5'), mediaType: IMG },
] };
const verdicts = (r: ReturnType<typeof decideDelete>) => Object.fromEntries(r.decisions.map((d) => [d.tag, d.verdict]));

test("regex '.' with mix-count 0 would empty the repository: every delete is blocked with the reason and the option; allowed with it", () => {
  const r = decideDelete({ registry: 'r', repo, selection: whole, policy, indexChildren: new Map([[D('3'), [D('6')]]]), nowMs: 0 });
  assert.equal(r.actions.length, 0);
  assert.deepEqual(new Set(Object.values(verdicts(r))), new Set(['blocked']));
  assert.match(r.blocked[0].reason, /would delete every tag of app \(5\): set delete-policy\.allow-empty-repository: true if that is meant/);
  assert.equal(r.warnings?.length, 1);
  const ok = decideDelete({ registry: 'r', repo, selection: whole, policy, indexChildren: new Map([[D('3'), [D('6')]]]), nowMs: 0, allowEmpty: true });
  assert.equal(ok.actions.length, 5);
  assert.equal(ok.warnings, undefined);
});

test('deleting latest (every keep-like tag) is blocked on its own; the other deletes go', () => {
  const p = { ...policy, exclude: { keys: ['v3'], regex: [] } };
  const r = decideDelete({ registry: 'r', repo, selection: whole, policy: p, indexChildren: new Map([[D('3'), [D('6')]]]), nowMs: 0 });
  assert.deepEqual(verdicts(r), { latest: 'blocked', v1: 'delete', v2: 'delete', v3: 'keep', dev: 'delete' });
  assert.match(r.blocked[0].reason, /would delete latest, which deployments usually pull/);
});

test('images in use are kept with who uses them: by digest, by the platform manifest of an index, by tag reference', () => {
  const inUse = {
    format: 'kubectl' as const,
    digests: new Map([[D('2'), 'pod a/x container c'], [D('6'), 'pod b/y container d']]),
    refs: new Map([['reg.example/app:dev', 'pod c/z container e']]),
    entries: 3,
  };
  const first = decideDelete({ registry: 'r', repo, selection: whole, policy, indexChildren: new Map(), nowMs: 0, inUse, host: 'reg.example', allowEmpty: true });
  assert.deepEqual(first.needsChildren, [D('3')], 'an index candidate: its platform manifests are read first');
  const r = decideDelete({ registry: 'r', repo, selection: whole, policy, indexChildren: new Map([[D('3'), [D('6')]]]), nowMs: 0, inUse, host: 'reg.example', allowEmpty: true });
  assert.deepEqual(verdicts(r), { latest: 'delete', v1: 'keep', v2: 'keep', v3: 'delete', dev: 'keep' });
  const reasons = Object.fromEntries(r.decisions.map((d) => [d.tag, d.reason]));
  assert.equal(reasons.v1, 'in use: pod a/x container c');
  assert.match(String(reasons.v2), /^in use: pod b\/y container d \(platform manifest sha256:666666666666 of this index\)$/);
  assert.equal(reasons.dev, 'in use: pod c/z container e');
});
