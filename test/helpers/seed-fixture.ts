import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from './registry.js';
import { pushImage } from './images.js';
import { writeFile } from './io.js';

const seedConfig = fileURLToPath(new URL('../../../examples/seed-config.yml', import.meta.url));

export interface SeedWorld {
  harbor: TestRegistry;
  aliyun: TestRegistry;
  /** tag -> digest, per `registry/repo`, as pushed. */
  d: Record<string, Record<string, string>>;
  /** The seed's example config, byte for byte, but for the two registry addresses. */
  writeConfig(dir: string, edit?: (yaml: string) => string): string;
  stop(): Promise<void>;
}

const at = (day: string) => `${day}T00:00:00Z`;

/**
 * Two real registries named as in the seed (harbor: TLS + Basic auth, insecure: true as
 * the seed says; aliyun: plain HTTP + Basic auth), seeded with the seed's kinds of tags.
 */
export async function startSeedWorld(): Promise<SeedWorld> {
  const users = { admin: 'harbor12345' };
  const [harbor, aliyun] = await Promise.all([startRegistry({ tls: true, auth: 'htpasswd', users }), startRegistry({ auth: 'htpasswd', users })]);
  const d: SeedWorld['d'] = { 'harbor/library/mysql': {}, 'harbor/library/redis': {}, 'aliyun/prod/mysql': {}, 'aliyun/team/tools': {} };
  const push = async (reg: TestRegistry, key: string, repo: string, tags: string[], spec: Parameters<typeof pushImage>[3]) => {
    const digest = await pushImage(reg, repo, tags, spec);
    for (const t of tags) d[key][t] = digest;
    return digest;
  };
  const m = 'harbor/library/mysql';
  // Delete candidates by include keys, with creation times that decide mix-count.
  for (let i = 1; i <= 6; i++) await push(harbor, m, 'library/mysql', [`develop-${i}`], { seed: `develop-${i}`, created: at(`2024-01-0${i}`) });
  await push(harbor, m, 'library/mysql', ['release-1.0'], { seed: 'release-1.0', created: at('2023-06-01') });
  await push(harbor, m, 'library/mysql', ['release-2.0'], { seed: 'release-2.0', created: at('2024-02-01'), platforms: ['amd64', 'arm64'] });
  await push(harbor, m, 'library/mysql', ['hotfix-1'], { seed: 'hotfix-1', created: at('2023-07-01') });
  await push(harbor, m, 'library/mysql', ['feature-login'], { seed: 'feature-login', created: at('2024-03-01') });
  await push(harbor, m, 'library/mysql', ['build-2019'], { seed: 'build-2019', created: at('2019-06-01'), format: 'docker' });
  await push(harbor, m, 'library/mysql', ['2018-backup'], { seed: '2018-backup', created: at('2018-06-01') });
  await push(harbor, m, 'library/mysql', ['develop-old'], { seed: 'develop-old', created: at('2017-01-01'), platforms: ['amd64', 'arm64'] });
  // `latest` shares its (old) image with a candidate: that candidate must be blocked.
  await push(harbor, m, 'library/mysql', ['latest', 'feature-shared'], { seed: 'latest', created: at('2018-01-01') });
  // Excluded by the exclude regex, even where an include key matches (v2019.1.0).
  await push(harbor, m, 'library/mysql', ['master'], { seed: 'master', created: at('2024-05-01') });
  await push(harbor, m, 'library/mysql', ['v1.2.3'], { seed: 'v1.2.3', created: at('2024-04-01'), platforms: ['amd64', 'arm64'] });
  await push(harbor, m, 'library/mysql', ['1.0'], { seed: '1.0', created: at('2022-01-01'), format: 'docker' });
  await push(harbor, m, 'library/mysql', ['1.2.3-alpha.1'], { seed: '1.2.3-alpha.1', created: at('2024-03-15') });
  await push(harbor, m, 'library/mysql', ['v2019.1.0'], { seed: 'v2019.1.0', created: at('2019-01-01') });
  await push(harbor, m, 'library/mysql', ['stable'], { seed: 'stable', created: at('2024-01-15') });
  const r = 'harbor/library/redis';
  await push(harbor, r, 'library/redis', ['5.0.12'], { seed: 'redis-5.0.12', created: at('2021-01-01'), platforms: ['amd64', 'arm64'] });
  await push(harbor, r, 'library/redis', ['latest', '6.2'], { seed: 'redis-6.2', created: at('2022-01-01') });
  await push(harbor, r, 'library/redis', ['develop-x'], { seed: 'redis-develop-x', created: at('2022-01-01') });
  // The target already has 1.0 (same digest) and an older v1.2.3 (another digest).
  await pushImage(aliyun, 'prod/mysql', ['1.0'], { seed: '1.0', created: at('2022-01-01'), format: 'docker' });
  d['aliyun/prod/mysql']['1.0'] = d[m]['1.0'];
  await push(aliyun, 'aliyun/prod/mysql', 'prod/mysql', ['v1.2.3'], { seed: 'old-v1.2.3', created: at('2020-01-01') });
  await push(aliyun, 'aliyun/prod/mysql', 'prod/mysql', ['develop-x'], { seed: 'aliyun-develop-x', created: at('2020-01-01') });
  await push(aliyun, 'aliyun/team/tools', 'team/tools', ['feature-a'], { seed: 'tools-a' });
  await push(aliyun, 'aliyun/team/tools', 'team/tools', ['feature-b'], { seed: 'tools-b' });

  return {
    harbor,
    aliyun,
    d,
    writeConfig(dir, edit = (y) => y) {
      const yaml = readFileSync(seedConfig, 'utf8').replace('registry: https://harbor.io', `registry: ${harbor.url}`).replace('registry: https://registry.aliyun.com', `registry: ${aliyun.url}`);
      return writeFile(dir, 'config.yml', edit(yaml));
    },
    async stop() {
      await Promise.all([harbor.stop(), aliyun.stop()]);
    },
  };
}
