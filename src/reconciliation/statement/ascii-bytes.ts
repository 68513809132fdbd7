/** ASCII numbers in and out of byte buffers, for the stage feed's fast path. */

/** The whole number the ASCII digits in b[a, z) spell; NaN for anything else or more than max digits. */
export function digits(b: Buffer, a: number, z: number, max: number): number {
  if (z <= a || z - a > max) return NaN;
  let n = 0;
  for (let i = a; i < z; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** "48.50", "48.5" or "48" as fen; NaN for any other form (the grammar takes those). */
export function yuan(b: Buffer, a: number, z: number): number {
  let dot = -1;
  for (let i = a; i < z; i++) if (b[i] === 0x2e) { dot = i; break; }
  if (dot === -1) return digits(b, a, z, 13) * 100;
  const cents = digits(b, dot + 1, z, 2);
  return digits(b, a, dot, 13) * 100 + (z - dot - 1 === 1 ? cents * 10 : cents);
}

/** Whether b[a, z) holds exactly the bytes of known. */
export function sameBytes(known: Buffer, b: Buffer, a: number, z: number): boolean {
  if (known.length !== z - a) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== b[a + i]) return false;
  return true;
}

/** A non-negative safe integer's decimal digits at out[o]; returns the offset after them. */
export function writeNumber(out: Buffer, o: number, n: number): number {
  // in two parts below 2^31, where V8's integer arithmetic is fast: epoch milliseconds are 13 digits
  if (n >= 1_000_000) {
    const high = Math.floor(n / 1_000_000);
    o = writeSmall(out, o, high);
    let low = n - high * 1_000_000;
    for (let end = o + 6; end > o; low = (low / 10) | 0) out[--end] = 0x30 + (low % 10);
    return o + 6;
  }
  return writeSmall(out, o, n);
}

/** writeNumber for a non-negative integer below 2^31. */
export function writeSmall(out: Buffer, o: number, n: number): number {
  let count = 1;
  for (let p = 10; p <= n; p *= 10) count++;
  let v = n | 0;
  for (let end = o + count; end > o; v = (v / 10) | 0) out[--end] = 0x30 + (v % 10);
  return o + count;
}
