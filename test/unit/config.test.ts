import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseConfig, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { colourWanted, reportError } from '../../src/cli-run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function errorsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig('config.yml', yaml, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    let out = '';
    reportError(e, { err: (t) => (out += t) });
    return out;
  }
  assert.fail('config was accepted');
}

const REG = 'registries:\n  harbor:\n    registry: https://harbor.example\n';

test('the seed example config validates unchanged', () => {
  const c = loadConfig(`${root}examples/seed-config.yml`, {});
  assert.deepEqual([...c.registries.keys()], ['harbor', 'aliyun']);
  const harbor = c.registries.get('harbor')!;
  assert.equal(harbor.origin, 'https://harbor.io');
  assert.equal(harbor.insecure, true);
  assert.deepEqual(harbor.repositories, [{ repository: 'library/redis', tag: '5.0.12' }, { repository: 'library/mysql' }]);
  const d = c.deletePolicy!;
  assert.deepEqual(d.include.keys, ['develop', 'release', 'hotfix', 'feature', '2018', '2019']);
  assert.equal(d.include.regex.length, 0);
  assert.equal(d.exclude.regex.length, 1);
  assert.equal(d.mixCount, 10);
  assert.equal(d.dryRun, true);
  const s = c.syncPolicy!;
  assert.deepEqual(s.replace, [{ old: 'library', new: 'prod' }]);
  assert.equal(s.filters[0].test('v1.2.3'), true);
  assert.equal(s.filters[0].test('latest'), false);
});

test('defaults follow the seed: dry-run true, mix-count 10, start 0, all tags synced', () => {
  const c = parseConfig('c.yml', `${REG}  b:\n    registry: http://127.0.0.1:5000\ndelete-policy:\n  registries: [harbor]\nsync-policy:\n  from: harbor\n  to: b\n`, {});
  assert.equal(c.deletePolicy!.dryRun, true);
  assert.equal(c.deletePolicy!.mixCount, 10);
  assert.equal(c.deletePolicy!.start, 0);
  assert.equal(c.syncPolicy!.dryRun, true);
  assert.deepEqual(c.syncPolicy!.filters, []);
  assert.equal(c.registries.get('b')!.plainHttp, true);
  assert.equal(c.registries.get('harbor')!.plainHttp, false);
});

test('keys: trimmed, empties ignored, list accepted', () => {
  const c = parseConfig('c.yml', `${REG}delete-policy:\n  registries: [harbor]\n  tags:\n    include:\n      keys: " a , ,b,"\n    exclude:\n      keys: [x, "y,z"]\n`, {});
  assert.deepEqual(c.deletePolicy!.include.keys, ['a', 'b']);
  assert.deepEqual(c.deletePolicy!.exclude.keys, ['x', 'y', 'z']);
});

test('${VAR} in username/password reads the environment', () => {
  const c = parseConfig('c.yml', `registries:\n  r:\n    registry: https://r.example\n    username: \${U}\n    password: \${P}\n`, { U: 'bob', P: 'hunter2' });
  assert.equal(c.registries.get('r')!.configured!.username, 'bob');
  assert.equal(c.registries.get('r')!.configured!.password!.reveal(), 'hunter2');
  assert.ok(!JSON.stringify(c.registries.get('r')).includes('hunter2'));
  assert.ok(!String(c.registries.get('r')!.configured!.password).includes('hunter2'));
});

// Every bad input, with the message a person would see.
const broken: Array<[string, string, RegExp]> = [
  ['empty file', '', /config\.yml: the file is empty/],
  ['not YAML', 'registries: [a\n', /config\.yml:\d+: /],
  ['duplicate key', `${REG}    registry: https://other\n`, /config\.yml:4: duplicate key 'registry': it appears twice in the same mapping/],
  ['a tab as indentation: the tab alone is reported', 'registries:\n  h:\n\tregistry: https://h.example\n', /^error: invalid configuration:\n {2}config\.yml:3: Tabs are not allowed as indentation\n$/],
  ['missing registries', 'delete-policy:\n  registries: [a]\n', /config\.yml:1: missing required field 'registries'/],
  ['unknown field (typo)', `${REG}    pasword: x\n`, /config\.yml:4: registries\.harbor\.pasword: unknown field 'pasword' \(known: registry, username, password/],
  ['unknown registry name', `${REG}delete-policy:\n  registries: [Harbor]\n`, /config\.yml:5: delete-policy\.registries\[0\]: unknown registry 'Harbor' \(names are case-sensitive: did you mean 'harbor'\?\); known: harbor/],
  ['unknown sync target', `${REG}sync-policy:\n  from: harbor\n  to: aliyun\n`, /config\.yml:6: sync-policy\.to: unknown registry 'aliyun'; known: harbor/],
  ['bad regex', `${REG}delete-policy:\n  registries: [harbor]\n  tags:\n    exclude:\n      regex: "^v(\\\\d+"\n`, /config\.yml:8: delete-policy\.tags\.exclude\.regex: invalid regular expression \/\^v\(\\d\+\/: .*missing closing \)/],
  ['lookahead is not RE2', `${REG}sync-policy:\n  from: harbor\n  to: harbor\n  filters: ['^(?!dev)']\n`, /sync-policy\.filters\[0\]: invalid regular expression .*RE2 syntax/],
  ['unset ${VAR}', `${REG}    username: me\n    password: \${REGMGR_TEST_UNSET}\n`, /config\.yml:5: registries\.harbor\.password: environment variable REGMGR_TEST_UNSET is not set/],
  ['.. in a repository name', `${REG}    repositories: [app/../_catalog]\n`, /registries\.harbor\.repositories\[0\]: repository 'app\/\.\.\/_catalog' has a '\.\.' path segment/],
  ['upper case repository', `${REG}    repositories:\n      - Library/Redis\n`, /config\.yml:5: registries\.harbor\.repositories\[0\]: repository 'Library\/Redis' has an invalid path component 'Library'/],
  ['bad tag in repo:tag', `${REG}    repositories: ['app:-bad']\n`, /'-bad' is not a valid tag/],
  ['negative mix-count', `${REG}delete-policy:\n  registries: [harbor]\n  mix-count: -1\n`, /config\.yml:6: delete-policy\.mix-count: must be >= 0 \(got -1\)/],
  ['negative start', `${REG}sync-policy:\n  from: harbor\n  to: harbor\n  start: -3\n`, /sync-policy\.start: must be >= 0 \(got -3\)/],
  ['mix-count not a number', `${REG}delete-policy:\n  registries: [harbor]\n  mix-count: ten\n`, /delete-policy\.mix-count: must be integer \(got string "ten"\)/],
  ['URL with credentials', 'registries:\n  h:\n    registry: https://admin:topsecret@harbor.example\n', /config\.yml:3: registries\.h\.registry: 'https:\/\/<credentials>@harbor\.example': the URL contains credentials/],
  ['URL with credentials that does not even parse', 'registries:\n  h:\n    registry: https://alice:S3cretPass@h:99999\n', /registries\.h\.registry: 'https:\/\/<credentials>@h:99999': the URL contains credentials/],
  ['URL with a token in its query', 'registries:\n  h:\n    registry: https://h.example/?access_token=abc123def\n', /registries\.h\.registry: 'https:\/\/h\.example\/\?<redacted>' has a path, query or fragment/],
  ['registry named __proto__', 'registries:\n  __proto__:\n    registry: https://h.example\n', /config\.yml:2: registries\.__proto__: registry name '__proto__' is not an identifier: use letters, digits/],
  ['registry named constructor', 'registries:\n  constructor:\n    registry: https://h.example\n', /registries\.constructor: registry name 'constructor' is reserved; choose another/],
  ['registry name with an escape and a right-to-left override', 'registries:\n  "a\\e[2Jb\\u202e":\n    registry: https://h.example\n', /registry name 'a\\x1b\[2Jb\\u\{202e\}' is not an identifier/],
  ['registry name with a newline', 'registries:\n  "a\\nb":\n    registry: https://h.example\n', /registry name 'a\\x0ab' is not an identifier/],
  ['empty registry name', 'registries:\n  "":\n    registry: https://h.example\n', /registry name '' is not an identifier/],
  ['start out of bounds', `${REG}delete-policy:\n  registries: [harbor]\n  start: 2000000\n`, /delete-policy\.start: must be <= 1000000 \(got 2000000\)/],
  ['${VAR} in the registry address, unset', 'registries:\n  h:\n    registry: ${REGISTRY_URL}\n', /config\.yml:3: registries\.h\.registry: environment variable REGISTRY_URL is not set/],
  ['sync from a registry to itself onto the same repository', 'registries:\n  h:\n    registry: https://h.example\n    repositories: [app, lib/x]\nsync-policy:\n  from: h\n  to: h\n  replace:\n    - old: lib\n      new: mirror\n', /sync-policy\.to: syncs registry 'h' to itself, and replace maps app onto itself: add a replace rule that renames it/],
  ['retention rule: unknown field', `${REG}delete-policy:\n  registries: [harbor]\n  rules:\n    - tags: { regex: '^pr-' }\n      keep-last: 3\n`, /config\.yml:8: delete-policy\.rules\[0\]\.keep-last: unknown field 'keep-last' \(known: tags, repositories, keep-newest, keep-within\)/],
  ['retention rule: bad duration', `${REG}delete-policy:\n  registries: [harbor]\n  rules:\n    - tags: { regex: '^pr-' }\n      keep-within: 30 days\n`, /config\.yml:8: delete-policy\.rules\[0\]\.keep-within: must be an age like 36h, 30d or 2w \(got "30 days"\)/],
  ['retention rule: empty selector', `${REG}delete-policy:\n  registries: [harbor]\n  rules:\n    - tags: {}\n      keep-newest: 3\n`, /config\.yml:7: delete-policy\.rules\[0\]\.tags: empty selector: give keys or regex, as in include/],
  ['retention rule: keeps nothing', `${REG}delete-policy:\n  registries: [harbor]\n  rules:\n    - tags: { keys: pr }\n`, /delete-policy\.rules\[0\]: a rule keeps something: give keep-newest, keep-within or both/],
  ['retention rule: shadowed by an earlier rule with the same selector', `${REG}delete-policy:\n  registries: [harbor]\n  rules:\n    - tags: { regex: '^pr-' }\n      keep-newest: 3\n    - tags: { keys: x }\n      keep-newest: 1\n    - tags: { regex: '^pr-' }\n      keep-within: 2w\n`, /config\.yml:11: delete-policy\.rules\[2\]\.tags: rule 3 can never claim a tag: rule 1 has the same selector and comes first/],
  ['policy keep-within: bad duration', `${REG}delete-policy:\n  registries: [harbor]\n  keep-within: 0d\n`, /delete-policy\.keep-within: must be an age like 36h, 30d or 2w \(got "0d"\)/],
  ['sync from a catalog registry to itself without a catch-all rename', 'registries:\n  h:\n    registry: https://h.example\nsync-policy:\n  from: h\n  to: h\n', /syncs registry 'h' to itself, and replace maps \(any repository of the catalog that no replace rule renames\) onto itself/],
  ['URL with a path', 'registries:\n  h:\n    registry: https://harbor.example/v2/\n', /registries\.h\.registry: 'https:\/\/harbor\.example\/v2\/' has a path/],
  ['ftp URL', 'registries:\n  h:\n    registry: ftp://harbor.example\n', /scheme 'ftp:' is not supported/],
  ['number as keys', `${REG}delete-policy:\n  registries: [harbor]\n  tags:\n    include:\n      keys: 2018\n`, /delete-policy\.tags\.include\.keys: must be a string, a list of strings, or empty \(got number 2018; quote it\)/],
  ['password without username', `${REG}    password: x\n`, /registries\.harbor\.password: a password needs a username/],
  ['alias bomb', 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nregistries: {}\n', /cannot read YAML: .*alias/i],
  ['replace to an invalid name', `${REG}sync-policy:\n  from: harbor\n  to: harbor\n  replace:\n    - old: library\n      new: Prod\n`, /sync-policy\.replace\[0\]\.new: 'Prod' has an invalid path component/],
];

for (const [name, yaml, expected] of broken) {
  test(`bad config: ${name}`, () => {
    const msg = errorsOf(yaml);
    assert.match(msg, /^error: invalid configuration:\n/);
    assert.match(msg, expected);
  });
}

test('a password never appears in error output, even for a URL carrying it', () => {
  const msg = errorsOf('registries:\n  h:\n    registry: https://admin:topsecret@harbor.example\n    username: u\n    password: ${P}\n    insecure: maybe\n', { P: 'envsecret' });
  assert.ok(!msg.includes('topsecret'));
  assert.ok(!msg.includes('envsecret'));
});

test('a numeric password is the text as written, never a number and never echoed', () => {
  const c = parseConfig('c.yml', 'registries:\n  h:\n    registry: https://h.example\n    username: 42\n    password: 0123\n  g:\n    registry: https://g.example\n    username: u\n    password: 73915286\n', {});
  assert.equal(c.registries.get('h')!.configured!.username, '42');
  assert.equal(c.registries.get('h')!.configured!.password!.reveal(), '0123');
  assert.equal(c.registries.get('g')!.configured!.password!.reveal(), '73915286');
  const msg = errorsOf('registries:\n  h:\n    registry: https://h.example\n    username: u\n    password: 73915286\n    insecure: maybe\n');
  assert.ok(!msg.includes('73915286'), msg);
});

test('${VAR} works in every string field, the registry address included; $${ is a literal ${', () => {
  const c = parseConfig('c.yml', 'registries:\n  h:\n    registry: ${REGISTRY_URL}\n    repositories: ["${TEAM}/app"]\ndelete-policy:\n  registries: [h]\n  tags:\n    include:\n      regex: "^$${x}"\n', { REGISTRY_URL: 'https://h.example:8443', TEAM: 'team' });
  assert.equal(c.registries.get('h')!.origin, 'https://h.example:8443');
  assert.deepEqual(c.registries.get('h')!.repositories!.map((r) => r.repository), ['team/app']);
  assert.equal(c.deletePolicy!.include.regex[0].source, '^${x}');
});

test('timeout takes whole or decimal seconds and works either way', () => {
  const t = (v: string) => parseConfig('c.yml', `registries:\n  h:\n    registry: https://h.example\n    timeout: ${v}\n`, {}).registries.get('h')!.timeoutMs;
  assert.equal(t('10'), 10_000);
  assert.equal(t('1.5'), 1500);
  assert.equal(t('1.0005'), 1001);
  // A timeout below a second makes every request fail: refused with the field and line.
  assert.throws(() => t('0.0005'), /c\.yml:4: registries\.h\.timeout: must be >= 1 \(got 0\.0005\)/);
});

test('YAML a config never needs is an error with its line: a custom tag, nesting thousands deep', () => {
  assert.throws(() => parseConfig('c.yml', 'registries:\n  h:\n    registry: !foo https://h.example\n', {}), /c\.yml:3: unknown YAML tag !foo: a regmgr config uses plain YAML \(no ! tags\)/);
  assert.throws(() => parseConfig('c.yml', `a: ${'['.repeat(20000)}${']'.repeat(20000)}\n`, {}), /c\.yml:1: the YAML is nested too deeply to read \(a config is a few levels deep\)/);
});

test('a sync from a registry to itself is fine when every repository is renamed', () => {
  const c = parseConfig('c.yml', 'registries:\n  h:\n    registry: https://h.example\nsync-policy:\n  from: h\n  to: h\n  replace:\n    - old: ""\n      new: mirror\n', {});
  assert.equal(c.syncPolicy!.from, 'h');
});

test("the retention rules syntax of the issue is accepted as written", () => {
  const c = parseConfig('c.yml', `${REG}delete-policy:\n  registries: [harbor]\n  mix-count: 10\n  keep-within: 30d\n  tags:\n    include: { regex: '^(pr|nightly|feature)-' }\n    exclude: { regex: '^latest$' }\n  rules:\n    - tags: { regex: '^pr-' }\n      repositories: ['team/*']\n      keep-newest: 3\n    - tags: { regex: '^nightly-' }\n      keep-newest: 7\n    - tags: { keys: feature }\n      keep-within: 15d\n`, {});
  const dp = c.deletePolicy!;
  assert.equal(dp.keepWithin!.ms, 30 * 86_400_000);
  assert.deepEqual(dp.rules.map((r) => [r.number, r.keepNewest, r.keepWithin?.text]), [[1, 3, undefined], [2, 7, undefined], [3, undefined, '15d']]);
  assert.ok(dp.rules[0].repositories![0].test('team/app') && !dp.rules[0].repositories![0].test('team/a/b') && !dp.rules[0].repositories![0].test('other/app'));
});

test('a missing file is named', () => {
  assert.throws(() => loadConfig('/nonexistent/regmgr.yml', {}), /\/nonexistent\/regmgr\.yml: cannot read config: no such file/);
});

test('generated config types are current with the schema', () => {
  execFileSync('node', [`${root}scripts/gen-types.mjs`, '--check'], { stdio: 'pipe' });
});

test("the README's config reference validates", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const block = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1];
  const c = parseConfig('README.md', block, { HARBOR_PASSWORD: 'x' });
  assert.deepEqual([...c.registries.keys()], ['harbor', 'aliyun']);
  assert.equal(c.syncPolicy!.to, 'aliyun');
});

test('colour: a terminal by default; --color or FORCE_COLOR forces it (CI logs); --no-color or NO_COLOR turns it off', () => {
  assert.equal(colourWanted(undefined, true, {}), true);
  assert.equal(colourWanted(undefined, false, {}), false);
  assert.equal(colourWanted(true, false, {}), true);
  assert.equal(colourWanted(undefined, false, { FORCE_COLOR: '1' }), true);
  assert.equal(colourWanted(undefined, false, { FORCE_COLOR: '0' }), false);
  assert.equal(colourWanted(false, true, { FORCE_COLOR: '1' }), false);
  assert.equal(colourWanted(true, true, { NO_COLOR: '1' }), false);
});

test('registry kind: ghcr.io and registry.gitlab.com are recognised; a vendor API may have a path; owner and api are checked per kind', () => {
  const c = parseConfig('c.yml', `registries:\n  gh:\n    registry: ghcr.io\n    owner: acme\n  gl:\n    registry: registry.gitlab.com\n    owner: grp/sub\n  h:\n    registry: https://harbor.example\n    kind: harbor\n    api: https://harbor.example/api/v2.0\n`, {});
  assert.equal(c.registries.get('gh')!.kind, 'ghcr');
  assert.equal(c.registries.get('gl')!.kind, 'gitlab');
  assert.equal(c.registries.get('gl')!.api, 'https://gitlab.com/api/v4');
  assert.equal(c.registries.get('h')!.api, 'https://harbor.example/api/v2.0');
  assert.match(errorsOf(`registries:\n  gh:\n    registry: ghcr.io\n`), /registries\.gh\.owner.*kind ghcr lists repositories through the owner's packages/);
  assert.match(errorsOf(`registries:\n  r:\n    registry: https://r.example\n    owner: acme\n`), /registries\.r\.owner: is for kind: ghcr or gitlab/);
  assert.match(errorsOf(`registries:\n  gl:\n    registry: https://reg.example\n    kind: gitlab\n    owner: grp\n`), /registries\.gl\.api: kind gitlab needs GitLab's API base/);
  assert.match(errorsOf(`registries:\n  h:\n    registry: https://h.example\n    kind: harbor\n    api: https://h.example/api?token=x\n`), /registries\.h\.api: .* has a path, query or fragment/);
});
