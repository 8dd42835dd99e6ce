import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonical, canonicalHash, writeCanonical } from '../../src/plan/canonical.js';
import { sortKeys, writeCanonicalPair } from '../../src/util/canonical.js';
import { readState, stateText, writeStateAsIs } from '../../src/state/file.js';
import { keyedGet, keyedSet, OneKey } from '../../src/util/one-key.js';
import { RankedReason } from '../../src/policy/reason.js';
import { jsonLines } from '../../src/util/json-lines.js';
import { seededRandom } from '../helpers/random.js';

// The streaming writer must give the bytes the plan format was defined by, compact (the
// hash) and pretty (the file), or every plan written before it would stop verifying.
const text = (v: unknown, indent?: string) => {
  const parts: string[] = [];
  writeCanonical(v, (s) => parts.push(s), indent);
  return parts.join('');
};

test('writeCanonical is JSON.stringify(canonical(v)) byte for byte where no key looks like an array index, compact and pretty', () => {
  const samples: unknown[] = [
    null, 0, -0, 1.5, 'x', true, [], {}, [[]], [{}], { a: [] }, { a: {} },
    { b: 1, a: [1, 'two', null, { d: undefined, c: 'é\u2028\u0000"\\' }], e: undefined },
    [undefined, 1], { z: { y: { x: [3, 2, 1] } }, 'key with space': 1, '': 2 },
    // Lone surrogates, paired ones (emoji), DEL and NEL: escaped exactly as JSON.stringify does.
    { '\ud800': '\udfff', 'a\ud83d\ude00b': '\u007f\u0085', '\t': '\n\r' },
  ];
  // A wide and deep one, larger than one 64 KiB piece.
  const big: Record<string, unknown> = {};
  for (let i = 0; i < 3000; i++) big[`tag-${(i * 7919) % 3000}`] = { digest: `sha256:${String(i).padStart(64, '0')}`, verdict: i % 2 ? 'keep' : 'delete', reasons: [`r${i}`, { n: i }] };
  samples.push(big);
  for (const v of samples) {
    assert.equal(text(v), JSON.stringify(canonical(v)));
    assert.equal(text(v, '  '), JSON.stringify(canonical(v), null, 2));
  }
});

// What the plan's hash and files are: JSON.stringify's bytes for every value, each
// record's keys in code-unit order. JSON.stringify(canonical(v)) gives the same bytes but
// for keys that look like array indexes ("9", "10"), which every object lists first, in
// numeric order: a tag named "10" sorts before "9" here, as the writer has always put it.
const reference = (value: unknown, indent: string, pad = '', key = ''): string | undefined => {
  const v = value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(k: string): unknown }).toJSON(key) : value;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const inner = pad + indent;
  const nl = indent ? '\n' : '';
  if (Array.isArray(v)) return v.length ? `[${[...v].map((x, i) => `${nl}${inner}${reference(x, indent, inner, String(i)) ?? 'null'}`).join(',')}${nl}${pad}]` : '[]';
  const parts = Object.keys(v)
    .sort()
    .flatMap((k) => {
      const s = reference((v as Record<string, unknown>)[k], indent, inner, k);
      return s === undefined ? [] : [`${nl}${inner}${JSON.stringify(k)}${indent ? ': ' : ':'}${s}`];
    });
  return parts.length ? `{${parts.join(',')}${nl}${pad}}` : '{}';
};

/**
 * Random values that sort in surprising ways (array-index-like keys a record lists first,
 * case, __proto__, escapes), with holes and undefined, toJSON objects, OneKey, nesting to
 * depth 5. Each a record or an array of two: not undefined at the top, which
 * JSON.stringify does not write at all.
 */
function* randomValues(seed: number, n: number): Generator<{ v: unknown; rand: (n: number) => number }> {
  const rand = seededRandom(seed);
  const keys = RANDOM_KEYS;
  const strings = ['', 'x', 'dev-1', 'sha256:' + 'a'.repeat(64), 'é\u2028', '\u0000', '"', '\\', '\ud83d\ude00', '\udfff'];
  const value = (depth: number): unknown => {
    switch (rand(depth >= 5 ? 5 : 9)) {
      case 0: return strings[rand(strings.length)];
      case 1: return [0, -0, 1.5, -7, 1e21, 2 ** 53][rand(6)];
      case 2: return [null, true, false][rand(3)];
      case 3: return undefined;
      case 4: return rand(2) ? { toJSON: (k: string) => `key ${k}` } : { toJSON: (k: string) => ({ k }) };
      case 5: case 6: {
        const o: Record<string, unknown> = {};
        for (let n = rand(6); n > 0; n--) Object.defineProperty(o, keys[rand(keys.length)], { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        return o;
      }
      case 7: {
        const a: unknown[] = [];
        for (let n = rand(5); n > 0; n--) a.push(value(depth + 1));
        if (rand(4) === 0) a.length += 2; // holes
        return a;
      }
      default: return new OneKey(keys[rand(keys.length)], value(depth + 1));
    }
  };
  for (let i = 0; i < n; i++) yield { v: rand(2) ? [value(1), value(1)] : { [keys[rand(keys.length)]]: value(1), [keys[rand(keys.length)]]: value(1) }, rand };
}

const RANDOM_KEYS = ['a', 'B', 'b', '0', '10', '9', '01', '-1', '1.5', '__proto__', 'toJSON', '', 'é', '"q"', 'line\n', '\ud800', 'tag-1', 'tag-10', 'tag-2'];

test('writeCanonical is that text on 300 random values, compact and pretty', () => {
  let i = 0;
  for (const { v } of randomValues(20261206, 300)) {
    for (const indent of ['', '  ']) assert.equal(text(v, indent), reference(v, indent), `value ${i}`);
    i++;
  }
});

// plan -out makes a plan's hash and its file in one walk (writeNewPlanFile): each text
// must be the one writeCanonical writes alone, the compact one without the top-level
// keys left out, whatever those keys' values are and wherever they sort.
test('writeCanonicalPair writes both texts of 300 random values at once, each as writeCanonical does, the compact one without the keys left out', () => {
  let i = 0;
  for (const { v, rand } of randomValues(20261207, 300)) {
    const top = v as Record<string, unknown>;
    if (!Array.isArray(v)) {
      // More top-level keys, so that keys are left out before, between and after others.
      for (let n = rand(4); n > 0; n--) Object.defineProperty(top, RANDOM_KEYS[rand(RANDOM_KEYS.length)], { value: [rand(9), 'x'], enumerable: true, writable: true, configurable: true });
    }
    const candidates = Array.isArray(v) ? ['0'] : Object.keys(top);
    const leaveOut = new Set(candidates.filter(() => rand(3) === 0));
    const pretty: string[] = [];
    const compact: string[] = [];
    const reached: string[] = [];
    writeCanonicalPair(v, (s) => pretty.push(s), '  ', { sink: (s) => compact.push(s), leaveOut, reached: (k) => reached.push(`${k}@${pretty.join('').length}`) });
    assert.equal(pretty.join(''), text(v, '  '), `value ${i}, indented`);
    const kept = Array.isArray(v) ? v : Object.fromEntries(Object.entries(top).filter(([k]) => !leaveOut.has(k)));
    assert.equal(compact.join(''), text(kept, ''), `value ${i}, compact, leaving out ${[...leaveOut].join(' ')}`);
    if (!Array.isArray(v)) {
      // Each top-level key with a value is reached once its text up to the value has been handed over.
      const whole = pretty.join('');
      const want = Object.keys(top).sort().filter((k) => top[k] !== undefined);
      assert.deepEqual(reached.map((r) => r.slice(0, r.lastIndexOf('@'))), want, `value ${i}, keys reached`);
      for (const r of reached) {
        const at = Number(r.slice(r.lastIndexOf('@') + 1));
        assert.ok(whole.slice(0, at).endsWith(`${JSON.stringify(r.slice(0, r.lastIndexOf('@')))}: `), `value ${i}: ${r} is reached right before its value`);
      }
    }
    i++;
  }
});

test('a OneKey is written as the record it stands for: the bytes of the same plan held as plain records', () => {
  // A one-tag delete's reasons, as plan builds them and as a plan file holds them.
  const held = { actions: [{ tags: ['v1'], reasons: new OneKey('v1', 'why') }, { reasons: new OneKey('__proto__', 'x') }, { reasons: new OneKey('é"\n', '\ud800') }, { gone: new OneKey('k', undefined) }], n: new OneKey('b', { a: new OneKey('z', 1), c: 2 }) };
  const plain = JSON.parse('{"actions":[{"tags":["v1"],"reasons":{"v1":"why"}},{"reasons":{"__proto__":"x"}},{"reasons":{"é\\"\\n":"\\ud800"}},{"gone":{}}],"n":{"b":{"a":{"z":1},"c":2}}}');
  for (const indent of ['', '  ']) {
    assert.equal(text(held, indent), text(plain, indent));
    assert.equal(text(held, indent), JSON.stringify(canonical(plain), null, indent));
  }
  assert.deepEqual(canonical(held), canonical(plain));
  assert.equal(Object.getOwnPropertyDescriptor((canonical(held) as { actions: Array<{ reasons: object }> }).actions[1].reasons, '__proto__')?.value, 'x');
});

test('a RankedReason is written as its text, alone, in a OneKey and in a record, compact and pretty', () => {
  const r = new RankedReason('matches include key "dev"; #', 12345, ' newest of 66666 candidates by image creation time, beyond mix-count 10');
  const text0 = 'matches include key "dev"; #12345 newest of 66666 candidates by image creation time, beyond mix-count 10';
  assert.equal(String(r), text0);
  const held = { reasons: new OneKey('dev-1', r), decisions: { 'dev-1': { verdict: 'delete', reason: r } }, would_lose: [{ tag: 'v1', reason: r }] };
  const plain = { reasons: { 'dev-1': text0 }, decisions: { 'dev-1': { verdict: 'delete', reason: text0 } }, would_lose: [{ tag: 'v1', reason: text0 }] };
  for (const indent of ['', '  ']) assert.equal(text(held, indent), text(plain, indent));
  assert.equal([...jsonLines(held)].join('\n'), JSON.stringify(plain, null, 2));
  assert.equal(canonicalHash(held), canonicalHash(plain));
});

test('a OneKey answers for its own key only, and becomes a record when a second key is set', () => {
  const one = new OneKey('v1', 'why');
  assert.equal(keyedGet(one, 'v1'), 'why');
  for (const k of ['v2', 'toJSON', 'key', 'value', 'constructor']) assert.equal(keyedGet(one, k), undefined, k);
  assert.equal(keyedGet({ v1: 'x' }, 'constructor'), undefined);
  assert.deepEqual(keyedSet(one, 'v1', 'again'), new OneKey('v1', 'again'));
  const two = keyedSet(one, '__proto__', 'second');
  assert.ok(!(two instanceof OneKey));
  assert.deepEqual(Object.entries(two), [['v1', 'why'], ['__proto__', 'second']]);
  assert.equal(Object.getPrototypeOf(two), Object.prototype);
});

test('writeCanonical hands the text over in pieces of about 64 KiB', () => {
  const v = Array.from({ length: 20000 }, (_, i) => ({ i, s: 'x'.repeat(20) }));
  const sizes: number[] = [];
  writeCanonical(v, (s) => sizes.push(s.length));
  assert.ok(sizes.length > 5 && sizes.slice(0, -1).every((n) => n >= 65536 && n < 65536 + 200), sizes.join(','));
});

test('a state file holds the text the database holds: JSON.stringify(canonical(state), null, 2), written in pieces', () => {
  // An own key named __proto__ (a tag), keys out of order, escapes, and more than one 64 KiB piece.
  const tags = JSON.parse(`{"__proto__":{"digest":"sha256:${'a'.repeat(64)}","media_type":"x"}}`);
  for (let i = 0; i < 3000; i++) tags[`t-${(i * 7919) % 3000}\u00e9"`] = { digest: `sha256:${String(i).padStart(64, '0')}`, media_type: 'application/vnd.oci.image.manifest.v1+json', ...(i % 2 ? { size: i } : {}) };
  const state = { format_version: 1, lineage: 'l', serial: 3, regmgr_version: 't', written_at: '2025-01-01T00:00:00.000Z', written_by: 'refresh' as const, registries: { r: { url: 'http://127.0.0.1:1' } }, snapshot: { r: { 'b/c': tags, a: {} } } };
  const dir = mkdtempSync(join(tmpdir(), 'state-text-'));
  try {
    writeStateAsIs(join(dir, 'state.json'), state);
    const expected = JSON.stringify(canonical(state), null, 2) + '\n';
    assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), expected);
    assert.equal(stateText(state), expected);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a state file read in parts (as one past the string limit is) is the state written', () => {
  const tags = JSON.parse(`{"__proto__":{"digest":"sha256:${'a'.repeat(64)}","media_type":"x"}}`);
  for (let i = 0; i < 3000; i++) tags[`t-${(i * 7919) % 3000}`] = { digest: `sha256:${String(i).padStart(64, '0')}`, media_type: 'application/vnd.oci.image.manifest.v1+json', ...(i % 2 ? { size: i } : {}) };
  const state = { format_version: 1, lineage: 'l', serial: 3, regmgr_version: 't', written_at: '2025-01-01T00:00:00.000Z', written_by: 'refresh' as const, registries: { r: { url: 'http://127.0.0.1:1' } }, snapshot: { r: { 'b/c': tags, a: {} } } };
  const dir = mkdtempSync(join(tmpdir(), 'state-parts-'));
  try {
    const file = join(dir, 'state.json');
    writeStateAsIs(file, state);
    const whole = readState(file)!;
    assert.ok(Object.hasOwn(whole.snapshot.r['b/c'], '__proto__'));
    const parts = readState(file, { whole: 0, part: 16 })!;
    assert.deepEqual(parts, whole);
    assert.equal(stateText(parts), readFileSync(file, 'utf8'));
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 70000));
    assert.throws(() => readState(file, { whole: 0, part: 16 }), /state\.json: not a state file: invalid JSON$/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

// The writer puts a record's keys in order in place (by insertion up to 16 keys, by
// sort() past that): the order sort() gives, for any keys.
test("sortKeys gives sort()'s order for 2,000 random sets of keys, 0 to 40 of them", () => {
  const rand = seededRandom(20261207);
  const pool = [...RANDOM_KEYS, 'verdict', 'reason', 'id', 'type', 'tags', 'kept_by', 'media_type', 'Z', 'z', '\u00ff', '\u{1f600}', 'a b'];
  for (let i = 0; i < 2000; i++) {
    const keys = [...new Set(Array.from({ length: rand(41) }, () => pool[rand(pool.length)] + (rand(3) ? '' : String(rand(20)))))];
    const mine = [...keys];
    sortKeys(mine);
    assert.deepEqual(mine, [...keys].sort(), keys.join(','));
  }
});
