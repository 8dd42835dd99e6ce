import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fsyncSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { Journal, readDone } from '../../src/apply/journal.js';

// The journal writes each line at once and fsyncs before the next request that changes
// a registry (durable, flush) and at close: one fsync per change, not one per line.
const tmp = tempDir('journal-sync');
after(() => tmp.remove());
const env = { ...process.env, REGMGR_JOURNAL_KEY: 'k'.repeat(32) };

/** A journal whose fsyncs are recorded: how many lines the file held at each. */
function recorded(name: string) {
  const path = join(tmp.dir, `${name}.journal`);
  const synced: number[] = [];
  const lines = () => readFileSync(path, 'utf8').split('\n').filter(Boolean).length;
  const journal = new Journal(path, 'a'.repeat(64), env, undefined, (fd) => (fsyncSync(fd), synced.push(lines())));
  return { path, synced, lines, journal };
}

test('every line written before durable() is on the disk when it returns, with one fsync', async () => {
  const { synced, lines, journal } = recorded('durable');
  journal.append('copy r/a:1', 'start');
  journal.append('copy r/a:2', 'start');
  // Written at once: a killed process loses none of them.
  assert.equal(lines(), 3);
  assert.deepEqual(synced, []);
  await journal.durable();
  assert.deepEqual(synced, [3]);
  // Nothing new: no fsync.
  await journal.durable();
  assert.deepEqual(synced, [3]);
  journal.append('copy r/a:1', 'done');
  journal.append('copy r/a:2', 'done');
  journal.close();
  assert.deepEqual(synced, [3, 5], 'close syncs what came after the last change');
});

test('flush() puts a lost tag on the disk before its put-back, without waiting for the database', async () => {
  const { synced, journal } = recorded('flush');
  let mirrored = 0;
  journal.mirror = { push: () => void mirrored++, durable: () => Promise.reject(new Error('not reached')) };
  journal.append('delete r/a@sha256:1', 'lost', 'x vanished', { tag: 'x' });
  journal.flush();
  assert.deepEqual(synced, [2]);
  assert.equal(mirrored, 1);
  journal.close();
});

test('a journal read back holds every line, synced or not at the time', async () => {
  const { path, journal } = recorded('readback');
  journal.append('copy r/a:1', 'start');
  await journal.durable();
  journal.append('copy r/a:1', 'done');
  journal.close();
  assert.deepEqual([...readDone(path, 'a'.repeat(64), env)], ['copy r/a:1']);
});
