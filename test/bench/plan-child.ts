// One measured run in a fresh process, so regmgr and the floor both start cold:
//   plan-child.js plan CONFIG        -> regmgr's makePlan
//   plan-child.js floor URL N        -> the same requests from a bare undici loop, N in flight
import { Agent, request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { makePlan } from '../../src/commands/plan.js';
import { silentLogger } from '../../src/util/log.js';
import { mapLimit } from '../../src/util/limit.js';
import { MANIFEST_ACCEPT } from '../../src/oci/media-types.js';

const [mode, arg, n, basic] = process.argv.slice(2);
const started = performance.now();
let extra: Record<string, number> = {};
if (mode === 'plan') {
  const plan = await makePlan(loadConfig(arg), { out() {}, err() {}, env: process.env, tty: false, color: false, logger: silentLogger });
  extra = { actions: plan.actions.length, blocked: plan.blocked.length, tags: Object.values(plan.snapshot).flatMap((r) => Object.values(r)).reduce((k, r) => k + Object.keys(r.tags).length, 0) };
} else {
  const conc = Number(n);
  // The floor keeps its connections (and TLS sessions) open, HEADs included.
  const agent = new Agent({ connections: conc, connect: { rejectUnauthorized: false } });
  const auth: Record<string, string> = basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {};
  const cat = (await (await request(`${arg}/v2/_catalog?n=1000`, { dispatcher: agent, headers: auth })).body.json()) as { repositories: string[] };
  const lists = await mapLimit(cat.repositories, conc, async (r) => {
    const j = (await (await request(`${arg}/v2/${r}/tags/list`, { dispatcher: agent, headers: auth })).body.json()) as { tags: string[] };
    return j.tags.map((t) => [r, t] as const);
  });
  let tags = 0;
  await mapLimit(lists.flat(), conc, async ([r, t]) => {
    const res = await request(`${arg}/v2/${r}/manifests/${t}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT, ...auth }, dispatcher: agent, reset: false });
    await res.body.dump();
    if (res.headers['docker-content-digest']) tags++;
  });
  await agent.close();
  extra = { tags };
}
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS, ...extra }));
