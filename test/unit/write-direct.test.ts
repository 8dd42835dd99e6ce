import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

const url = new URL('../../src/util/write-direct.js', import.meta.url).href;
/** A node that imports writeDirect and runs `body`. */
const child = (body: string) => ['--input-type=module', '-e', `const { writeDirect } = await import(${JSON.stringify(url)}); ${body}`];

test('writeDirect writes every byte, in order, past a pipe buffer', () => {
  // 1 MiB of multi-byte text, far more than a pipe holds: the writer waits for the reader.
  // (Its loop over short writes is for descriptors that give them, non-blocking ones;
  // a blocking pipe writes all or waits.)
  const r = spawnSync('node', child("writeDirect('é0123456789'.repeat(95_000)); writeDirect('end\\n');"), { encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${'é0123456789'.repeat(95_000)}end\n`);
});

test('writeDirect stops quietly when the reader has gone (EPIPE), as the streams do', async () => {
  const c = spawn('node', child("for (let i = 0; i < 1000; i++) writeDirect('x'.repeat(65536)); process.exitCode = 3;"), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  c.stdout!.once('data', () => c.stdout!.destroy());
  const code = await new Promise((resolve) => c.on('exit', resolve));
  assert.equal(err, '');
  assert.equal(code, 0);
});

test('writeDirect hands what it could not write to process.stdout', () => {
  // A descriptor that is not open: write(2) fails (EBADF), as it would with EAGAIN.
  const r = spawnSync('node', child("writeDirect('through the stream\\n', 1 << 20);"), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'through the stream\n');
});
