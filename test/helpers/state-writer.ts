// Writes the state over and over (for the kill -9 test): argv[2] is the state file,
// argv[3] how many writes finish before one stops halfway. Announces each write on stdout
// (`writing N`, `wrote N`); the one that stops says `halfway N` once its first piece is
// down, and waits there to be killed: the kill lands mid-write every time, by event, not
// by guessing how fast this machine is. (stdout is a pipe: synchronous on Linux.)
import { readState, writeState } from '../../src/state/file.js';
import { atomicHooks } from '../../src/util/atomic.js';
import type { StateSnapshot } from '../../src/state/model.js';

const file = process.argv[2];
const finishFirst = Number(process.argv[3] ?? 1);
let finished = 0;
let current = 0;
atomicHooks.midWrite = () => {
  if (finished < finishFirst) return;
  process.stdout.write(`halfway ${current}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until SIGKILL
};
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as never;
for (;;) {
  const prev = readState(file);
  const serial = (prev?.serial ?? 0) + 1;
  // A few hundred KiB, so that a write takes long enough to be interrupted.
  const snapshot: StateSnapshot = { r: {} };
  for (let repo = 0; repo < 20; repo++) {
    snapshot.r[`repo-${repo}`] = Object.fromEntries(Array.from({ length: 100 }, (_, t) => [`tag-${t}-serial-${serial}`, { digest: digest(serial * 10000 + t), media_type: 'application/vnd.oci.image.manifest.v1+json' }]));
  }
  current = serial;
  process.stdout.write(`writing ${serial}\n`);
  writeState(file, prev, { written_by: 'refresh', registries: { r: { url: 'http://127.0.0.1:1' } }, snapshot });
  finished++;
  process.stdout.write(`wrote ${serial}\n`);
}
