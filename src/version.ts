import { readFileSync } from 'node:fs';

/** regmgr's version, from package.json (recorded in every plan). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
