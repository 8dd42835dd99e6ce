/** A file regmgr reads (plan, state) cannot be used; the message starts with its path. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = new.target.name;
  }
}
