import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestTarget } from '../../src/registry/transport.js';
import { seededRandom } from '../helpers/random.js';

// requestTarget skips new URL for the paths regmgr builds from validated names. What it
// sends must be what the URL parser would have made of the same string, always: a path
// the parser would collapse (a dot segment, `%2e%2e`) or encode, or a URL on another
// origin, must not reach undici as written.
const origin = 'http://127.0.0.1:5000';
const parsed = (url: string) => {
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname + u.search };
};

test('a path built from names and digests is split, as the URL parser would', () => {
  for (const path of [
    '/v2/',
    '/v2/_catalog?n=1000',
    '/v2/team/app/tags/list?n=1000&last=v1.2.3',
    '/v2/team/app/manifests/v1.0.0',
    '/v2/a.b/c_d/e--f/manifests/sha256:' + 'a'.repeat(64),
    '/v2/app/blobs/uploads/?mount=sha256:' + 'b'.repeat(64) + '&from=other/app',
    '/v2/app/tags/list?last=%41&n=5',
    '/v2/app/manifests/...x',
  ]) {
    assert.deepEqual(requestTarget(origin, origin + path), { origin, path }, path);
    assert.deepEqual(requestTarget(origin, origin + path), parsed(origin + path), path);
  }
});

test('anything the URL parser would change goes through it', () => {
  for (const url of [
    `${origin}/v2/app/../other/manifests/x`,
    `${origin}/v2/app/./manifests/x`,
    `${origin}/v2/app/..`,
    `${origin}/v2/app/..?n=1`,
    `${origin}/v2/app/%2e%2e/other/manifests/x`,
    `${origin}/v2/app\\..\\other`,
    `${origin}/v2/app/tags/list?last=a b`,
    `${origin}/v2/app/tags/list?last=a#fragment`,
    `${origin}/v2/app/tags/list?last="x"`,
    `${origin}/v2/ap p/manifests/x`,
    `${origin}1/v2/app/manifests/x`,
    `${origin}@evil.example/v2/`,
    'http://127.0.0.1:5001/v2/app/manifests/x',
    'https://storage.example/blob?X-Amz-Signature=abc',
  ]) {
    assert.deepEqual(requestTarget(origin, url), parsed(url), url);
  }
  // And it is the parser's answer, not a copy of the text, where they differ.
  assert.equal(requestTarget(origin, `${origin}/v2/app/../other/manifests/x`).path, '/v2/other/manifests/x');
});

test('random paths of the characters that matter: always the parser\'s answer', () => {
  const rand = seededRandom(28);
  const alphabet = ['/', '.', '..', '%2e', '%2E', '%', '?', '#', '&', '=', ' ', '\\', '"', "'", '<', '>', ':', '@', '-', '_', '~', 'a', 'Z', '9', '\t', 'é', '`', '{', '|'];
  for (let i = 0; i < 5000; i++) {
    let path = '/v2/';
    for (let n = rand(12); n >= 0; n--) path += alphabet[rand(alphabet.length)];
    assert.deepEqual(requestTarget(origin, origin + path), parsed(origin + path), JSON.stringify(path));
  }
});
