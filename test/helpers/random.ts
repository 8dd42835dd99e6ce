/**
 * A seeded source of whole numbers below n, the same every run (xorshift32). Not an LCG
 * in floating point: `seed * 1103515245` passes 2^53 and loses its low bits, and such a
 * generator gave only even numbers (`rand(2)` always 0), which some of our property
 * tests used without knowing.
 */
export function seededRandom(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}
