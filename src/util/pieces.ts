/**
 * Gathers small strings into pieces of about 64 KiB for `sink`: a big output (a plan
 * file, a plan's text) is written as it is made, never held whole, and without a write
 * per line. Call end() once, after the last put().
 */
export function pieces(sink: (piece: string) => void, size = 65536): { put: (s: string) => void; end: () => void } {
  let buf = '';
  return {
    put(s: string) {
      buf += s;
      if (buf.length >= size) {
        sink(buf);
        buf = '';
      }
    },
    end() {
      if (buf) sink(buf);
      buf = '';
    },
  };
}
