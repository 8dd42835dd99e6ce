/**
 * Replaces `${NAME}` with the environment variable NAME. `$${` stays a literal `${`.
 * Returns the names that are unset so the caller can report them all.
 */
export function interpolate(value: string, env: NodeJS.ProcessEnv): { value: string; missing: string[] } {
  const missing: string[] = [];
  const out = value.replace(/\$\$\{|\$\{([^}]*)\}/g, (m, name: string | undefined) => {
    if (m === '$${') return '${';
    if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      missing.push(name ?? '');
      return '';
    }
    const v = env[name];
    if (v === undefined) {
      missing.push(name);
      return '';
    }
    return v;
  });
  return { value: out, missing };
}
