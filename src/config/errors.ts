/** One problem in a config file, located as precisely as the YAML allows. */
export interface ConfigIssue {
  file: string;
  /** Field path in dotted form, e.g. `delete-policy.tags.exclude.regex`; '' for the document. */
  path: string;
  line?: number;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** Raised before any network request when a config cannot be used; lists every problem found. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Joins path segments as a person reads them: `registries.harbor.repositories[1]`. */
export function dotted(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}
