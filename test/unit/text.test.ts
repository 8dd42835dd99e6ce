import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readText, utf8Text } from '../../src/util/text.js';
import { eachLine } from '../../src/util/lines.js';
import { seededRandom } from '../helpers/random.js';

const inDir = (f: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-text-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
};

// Bytes of every kind the decoders treat differently: ASCII (the fast path), Latin-1's
// upper half written as UTF-8, 3- and 4-byte characters, a byte order mark, and bytes
// that are not UTF-8 at all (each replaced by U+FFFD, as toString('utf8') does).
const samples = [
  Buffer.from('{"a":"sha256:0123","b":[1,2]}\n'),
  Buffer.from('café, naïve, \u2028, \ud83d\ude00\n'),
  Buffer.from('\ufeff{"bom":true}'),
  Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x0a, 0xe2, 0x82, 0x61, 0xf0, 0x9f, 0x98]),
  Buffer.alloc(0),
];

test('readText and utf8Text give what readFileSync(file, "utf8") gives, ASCII or not', () => {
  inDir((dir) => {
    samples.forEach((bytes, i) => {
      const file = join(dir, `s${i}`);
      writeFileSync(file, bytes);
      assert.equal(readText(file), readFileSync(file, 'utf8'), `sample ${i}`);
      assert.equal(utf8Text(bytes), bytes.toString('utf8'), `sample ${i}`);
      assert.equal(utf8Text(new Uint8Array(bytes)), bytes.toString('utf8'), `sample ${i} as a Uint8Array`);
    });
  });
});

test('eachLine gives the lines readFileSync(...).split("\\n") gives, whatever the chunk size cuts', () => {
  const rand = seededRandom(7);
  const pieces = ['a', 'sha256:0f', '\n', '\n', 'é', '\u2028', '\ud83d\ude00', '\r\n', '\ufffd'];
  inDir((dir) => {
    for (let i = 0; i < 60; i++) {
      const text = Array.from({ length: rand(300) }, () => pieces[rand(pieces.length)]).join('');
      const file = join(dir, 'lines');
      // Invalid bytes too, now and then: decoded as readFileSync decodes them.
      writeFileSync(file, i % 5 === 4 ? Buffer.concat([Buffer.from(text), Buffer.from([0xe2, 0x82]), Buffer.from('x\n')]) : text);
      const whole = readFileSync(file, 'utf8');
      const expected = whole.split('\n');
      if (expected[expected.length - 1] === '') expected.pop(); // a final newline ends the last line
      for (const chunk of [1, 2, 3, 5, 64, 1 << 20]) {
        const got: string[] = [];
        eachLine(file, 10_000, (l) => got.push(l), chunk);
        assert.deepEqual(got, expected, `text ${i}, chunks of ${chunk} bytes`);
      }
    }
  });
});

test('eachLine refuses a line longer than its bound, ended or not, in one chunk or many', () => {
  inDir((dir) => {
    const file = join(dir, 'long');
    for (const text of ['ok\n' + 'x'.repeat(11) + '\nok\n', 'ok\n' + 'x'.repeat(11), 'é'.repeat(11) + '\n', 'x'.repeat(200)]) {
      writeFileSync(file, text);
      for (const chunk of [4, 1 << 20]) assert.throws(() => eachLine(file, 10, () => {}, chunk), /a line of .*long is longer than 10 characters/, `${JSON.stringify(text.slice(0, 20))} in chunks of ${chunk}`);
    }
    writeFileSync(file, 'x'.repeat(10) + '\n' + 'é'.repeat(10));
    const got: string[] = [];
    eachLine(file, 10, (l) => got.push(l), 3);
    assert.deepEqual(got, ['x'.repeat(10), 'é'.repeat(10)]);
  });
});
