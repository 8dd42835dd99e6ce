// Writes the state over and over (for the kill -9 test): argv[2] is the state file.
// Announces each write on stdout (`writing N`, then `wrote N`), so the test can kill it
// at a chosen moment by event, not by guessing how fast this machine is.
import { readState, writeState } from '../../src/state/file.js';
import type { StateSnapshot } from '../../src/state/model.js';

const file = process.argv[2];
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as never;
for (;;) {
  const prev = readState(file);
  const serial = (prev?.serial ?? 0) + 1;
  // A few hundred KiB, so that a write takes long enough to be interrupted.
  const snapshot: StateSnapshot = { r: {} };
  for (let repo = 0; repo < 20; repo++) {
    snapshot.r[`repo-${repo}`] = Object.fromEntries(Array.from({ length: 100 }, (_, t) => [`tag-${t}-serial-${serial}`, { digest: digest(serial * 10000 + t), media_type: 'application/vnd.oci.image.manifest.v1+json' }]));
  }
  process.stdout.write(`writing ${serial}\n`);
  writeState(file, prev, { written_by: 'refresh', registries: { r: { url: 'http://127.0.0.1:1' } }, snapshot });
  process.stdout.write(`wrote ${serial}\n`);
}
