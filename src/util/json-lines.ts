import { asJson, isJsonValue } from './canonical.js';
import { OneKey } from './one-key.js';
import { KeyedNumbers } from './keyed-numbers.js';

/**
 * The lines of JSON.stringify(value, null, 2), made as they are taken (each without its
 * newline). A plan of 1,000,000 tags is ~870 MB of such text: one string of it exceeds
 * what V8 can hold (512 Mi characters) and `--json` failed; a line at a time, printed
 * as the reader takes it, it is never whole. For data (what JSON.parse makes and regmgr
 * builds): a value's toJSON() is followed as JSON.stringify does; no replacer.
 */
export function* jsonLines(value: unknown): Generator<string, void, undefined> {
  yield* lines(value, '', '', '', '');
}

function* lines(value: unknown, pad: string, key: string, comma: string, name: string): Generator<string, void, undefined> {
  if (value instanceof OneKey) {
    // The record it stands for, without making it (canonical.ts says why).
    if (!isJsonValue(value.value)) return void (yield `${pad}${key}{}${comma}`);
    yield `${pad}${key}{`;
    yield* lines(value.value, `${pad}  `, `${JSON.stringify(value.key)}: `, '', value.key);
    yield `${pad}}${comma}`;
    return;
  }
  if (value instanceof KeyedNumbers) {
    // The record in its own order, one key made at a time (keyed-numbers.ts).
    if (!value.size) return void (yield `${pad}${key}{}${comma}`);
    yield `${pad}${key}{`;
    let left = value.size;
    for (const [k, n] of value.inserted()) yield `${pad}  ${JSON.stringify(k)}: ${JSON.stringify(n)}${--left ? ',' : ''}`;
    yield `${pad}}${comma}`;
    return;
  }
  const v = asJson(value, name);
  if (v === null || typeof v !== 'object') {
    // JSON.stringify: undefined, a function or a symbol in an array is null; the caller
    // has already left out such values of an object.
    yield `${pad}${key}${JSON.stringify(v) ?? 'null'}${comma}`;
    return;
  }
  const inner = `${pad}  `;
  if (Array.isArray(v)) {
    if (!v.length) return void (yield `${pad}${key}[]${comma}`);
    yield `${pad}${key}[`;
    for (let i = 0; i < v.length; i++) yield* lines(v[i], inner, '', i < v.length - 1 ? ',' : '', String(i));
    yield `${pad}]${comma}`;
    return;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => isJsonValue(o[k]));
  if (!keys.length) return void (yield `${pad}${key}{}${comma}`);
  yield `${pad}${key}{`;
  for (let i = 0; i < keys.length; i++) yield* lines(o[keys[i]], inner, `${JSON.stringify(keys[i])}: `, i < keys.length - 1 ? ',' : '', keys[i]);
  yield `${pad}}${comma}`;
}
