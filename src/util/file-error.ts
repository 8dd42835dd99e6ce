/** A file regmgr reads (plan, state) cannot be used; the message starts with its path. */
export class FileError extends Error {
  // Named here, not from new.target.name: the bundle may rename a class (scripts/bundle.mjs).
  override name = 'FileError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}
