import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile } from '../../src/util/json-file.js';

// A plan file is input anyone with push access to a pull request can edit: read in
// parts, it must come out exactly as JSON.parse makes it, and be refused where JSON.parse
// refuses it. Every file here is split as far as it goes (parts of a few bytes).

const dir = mkdtempSync(join(tmpdir(), 'regmgr-json-file-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string | Buffer) => {
  const f = join(dir, `f${n++}.json`);
  writeFileSync(f, text);
  return f;
};

/** Equal, with keys in the same order, own "__proto__" keys, and plain prototypes. */
function same(a: unknown, b: unknown, path = '$'): void {
  if (a === null || typeof a !== 'object') return assert.equal(a, b, path);
  assert.ok(b !== null && typeof b === 'object', path);
  assert.equal(Array.isArray(a), Array.isArray(b), path);
  assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${path}: prototype`);
  assert.deepEqual(Object.keys(a), Object.keys(b as object), `${path}: keys`);
  for (const k of Object.keys(a)) same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
}

/** Both refuse it, or both read the same value. */
function agrees(text: string | Buffer, part: number): void {
  let expected: unknown;
  let refused = false;
  try {
    expected = JSON.parse(Buffer.from(text).toString('utf8'));
  } catch {
    refused = true;
  }
  const f = file(text);
  if (refused || expected === null || typeof expected !== 'object') {
    // A root that is not an object or array is never split: only JSON.parse reads it whole.
    if (refused) assert.throws(() => readJsonFile(f, { whole: 0, part }), SyntaxError, `accepted ${JSON.stringify(String(text))}`);
    return;
  }
  same(expected, readJsonFile(f, { whole: 0, part }));
}

test('a split file reads as JSON.parse reads it: order, duplicates, __proto__, escapes, UTF-8', () => {
  const texts = [
    '{}', '[]', ' { } ', '[ ]', '[[],{},[[]],{"a":{}}]',
    '{"b":1,"a":2,"b":3}', // the last duplicate wins, in the first one's place
    '{"10":1,"9":2,"x":3,"2":4}', // integer keys first, as objects order them
    '{"__proto__":{"polluted":true},"a":{"__proto__":[1]}}',
    '{"k\\"]},{":"v\\\\","é":"ünï ☃ 😀","\\ud800":"\\udfff","\\u0041":"\\n"}',
    '[1,-0,2.5e3,true,false,null,"[,]{:}"]',
    ' \n\t{ "a" : [ 1 , { "b" : [ ] } ] ,\r\n "c" : "d" } \n',
    JSON.stringify({ snapshot: { r: { repo: { tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, { digest: `sha256:${i}`, created: null }])) } } }, actions: Array.from({ length: 30 }, (_, i) => ({ id: `a${i}`, tags: [`t${i}`], reasons: { [`t${i}`]: 'why' } })) }, null, 2),
  ];
  // Deeper than the reader splits: counted, then parsed whole inside a part.
  const deep = (n: number, inner: string) => `${'[{"k":'.repeat(n)}${inner}${'}]'.repeat(n)}`;
  texts.push(deep(3, '[1,2]'), deep(30, '{"a":[1,{"b":2}],"c":"]"}'), `{"x":${deep(2000, '0')},"y":[1]}`);
  for (const t of texts) for (const part of [1, 3, 16, 1000]) agrees(t, part);
  // Large children come out as their own objects: nothing of the reader's is left in them.
  const v = readJsonFile(file('{"__proto__":{"x":[1,2,3]},"y":[{"__proto__":null}]}'), { whole: 0, part: 1 }) as Record<string, unknown>;
  assert.ok(Object.hasOwn(v, '__proto__') && Object.getPrototypeOf(v) === Object.prototype);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('what JSON.parse refuses, a split file refuses', () => {
  const bad = [
    '', ' ', '{', '[', '}', '{]', '[}', '{}}', '{}{}', '{} x', 'x{}', '\ufeff{}', '{"a":1,}', '[1,]', '[,1]', '[1,,2]', '{"a" 1}', '{"a":}',
    '{:1}', '{1:2}', '{"a":1 "b":2}', '[{"a":[]},]', '{"a":[1,2],}', '{"a":{"b":[]} "c"}', '[[1] [2]]', '{"a":[1] x}', '["unterminated]', '{"a":"b\u0001"}',
    '[{"x":[1,2,3]}, {"y":[4]}', '{"a":[{"b":1}]]', '[01]', '{"a":tru}', '{"a":"\\x"}',
    // Whitespace JSON does not allow, before a large member and after one.
    '{"k":\u00a0[1,2,3,4]}', '{"k"\u00a0:[1,2,3,4]}', '[[1,2,3,4]\u00a0]', '{"k":[1,2,3,4]\u2028}',
    // Mismatched brackets below the depth the reader splits at.
    `${'['.repeat(20)}{]${']'.repeat(19)}`, `{"a":${'['.repeat(20)}1${']'.repeat(19)}}}`, `[${'['.repeat(12)}1${']'.repeat(12)},${'{'.repeat(12)}]`,
  ];
  for (const t of bad) for (const part of [1, 4, 64]) agrees(t, part);
  // Bytes that are not UTF-8 read as U+FFFD, as readFileSync's decoding makes them.
  agrees(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe2, 0x28, 0xff]), Buffer.from('","b":[1]}')]), 2);
});

test('random JSON, and random damage to it, read the same split and whole', () => {
  // A seeded generator (xorshift): a failure names its seed and is reproducible.
  let seed = 0x2545f491;
  const rnd = (k: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % k;
  };
  const ws = () => [' ', '', '\n  ', '\t', '\r\n'][rnd(5)];
  const keys = ['a', 'b', '__proto__', 'constructor', '0', '7', '12', 'é', 'k"q', 'x\\y', '😀', ''];
  const scalar = () => [() => JSON.stringify(rnd(1000) - 500), () => '1.5e-3', () => 'true', () => 'null', () => JSON.stringify('s' + '[,]{:}"\\'.slice(0, rnd(8)) + '\u2028'), () => '"\\u00e9\\ud83d\\ude00"'][rnd(6)]();
  const value = (depth: number): string => {
    if (depth > 4 || rnd(3) === 0) return scalar();
    const size = rnd(6);
    const items = Array.from({ length: size }, () => (rnd(2) ? `${ws()}${JSON.stringify(keys[rnd(keys.length)])}${ws()}:${ws()}${value(depth + 1)}${ws()}` : ''));
    if (rnd(2)) return `{${items.filter((s) => s).join(',')}}`;
    return `[${Array.from({ length: size }, () => `${ws()}${value(depth + 1)}${ws()}`).join(',')}]`;
  };
  const damage = (t: string) => {
    const at = rnd(t.length + 1);
    const what = rnd(3);
    const ch = ',:[]{}" \\x1'[rnd(12)];
    return what === 0 ? t.slice(0, at) + t.slice(at + 1) : what === 1 ? t.slice(0, at) + ch + t.slice(at) : t.slice(0, at);
  };
  for (let i = 0; i < 400; i++) {
    const t = rnd(2) ? `{"root":${value(0)},"more":${value(0)}}` : `[${value(0)},${value(0)}]`;
    const part = 1 + rnd(40);
    agrees(t, part);
    agrees(damage(t), part);
  }
});

test('a file at most `whole` bytes is one JSON.parse; a missing file is the fs error', () => {
  assert.deepEqual(readJsonFile(file('{"a":[1]}')), { a: [1] });
  assert.throws(() => readJsonFile(join(dir, 'missing.json')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});
