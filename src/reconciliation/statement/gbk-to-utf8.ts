import iconv from 'iconv-lite';

/**
 * GBK (and GB18030's four-byte sequences) by the platform's decoder, about twice as fast as
 * iconv-lite's; iconv-lite where Node was built without full ICU. csvRows decodes the same way.
 */
export const gbkDecoder = (): { decode(bytes?: Uint8Array, options?: { stream?: boolean }): string } | undefined => {
  try {
    return new TextDecoder('gbk');
  } catch {
    return undefined;
  }
};

/** Distinct non-ASCII runs remembered; past this, a piece is decoded whole, as before. */
const MAX_RUNS = 4096;
const RECENT = 8;

/**
 * GBK bytes to UTF-8 bytes, as the decoder reads them (undefined where it would not: bytes that
 * are not GBK). A supplier's statement is ASCII but for a few words repeated on every line (充值成功,
 * a product name), so ASCII is copied as it is and each run of non-ASCII characters is decoded once
 * and remembered: decoding the whole file took longer than staging an ASCII one.
 *
 * A run is read the way GBK is built: a lead byte 0x81–0xFE takes the next byte with it (which may
 * be ASCII, 0x40–0x7E), or the next three when that byte is a digit (GB18030's four-byte form).
 * An LF is never part of a character, so a run never crosses a line; the decoder judges whether a
 * run is valid.
 */
export class GbkToUtf8 {
  private readonly decoder = gbkDecoder();
  private readonly runs = new Map<string, Buffer | null>();

  private decode(bytes: Uint8Array): Buffer | undefined {
    const text = this.decoder ? this.decoder.decode(bytes) : iconv.decode(Buffer.from(bytes), 'gbk');
    return text.includes('\uFFFD') ? undefined : Buffer.from(text, 'utf8');
  }

  /** The last runs seen, tried before the map: a statement repeats the same few words line after line. */
  private readonly recent: { bytes: Buffer; utf8: Buffer }[] = [];

  convert(bytes: Buffer): Buffer | undefined {
    const n = bytes.length;
    // a two-byte character becomes at most three UTF-8 bytes, a four-byte one four
    const out = Buffer.allocUnsafe(n + (n >> 1) + 4);
    let o = 0;
    let i = 0;
    while (i < n) {
      // an ASCII stretch, copied at once
      const from = i;
      while (i < n && bytes[i]! < 0x80) i++;
      if (i > from) o += bytes.copy(out, o, from, i);
      if (i === n) break;
      let j = i;
      while (j < n && bytes[j]! >= 0x80) {
        const lead = bytes[j]!;
        if (lead === 0x80 || lead === 0xff) j += 1;
        else if (j + 1 < n && bytes[j + 1]! >= 0x30 && bytes[j + 1]! <= 0x39) j += 4;
        else j += 2;
      }
      if (j > n) j = n;
      const utf8 = this.run(bytes, i, j);
      if (utf8 === null) return undefined;
      if (utf8 === undefined) return this.decode(bytes);
      for (let k = 0; k < utf8.length; k++) out[o++] = utf8[k]!;
      i = j;
    }
    return out.subarray(0, o);
  }

  /** The run's UTF-8 (null: not GBK; undefined: too many distinct runs to remember). */
  private run(bytes: Buffer, i: number, j: number): Buffer | null | undefined {
    const len = j - i;
    for (const r of this.recent) {
      if (r.bytes.length !== len) continue;
      let k = 0;
      while (k < len && r.bytes[k] === bytes[i + k]) k++;
      if (k === len) return r.utf8;
    }
    const key = bytes.toString('latin1', i, j);
    let utf8 = this.runs.get(key);
    if (utf8 === undefined) {
      if (this.runs.size >= MAX_RUNS) return undefined;
      utf8 = this.decode(bytes.subarray(i, j)) ?? null;
      this.runs.set(key, utf8);
    }
    if (utf8 === null) return null;
    if (this.recent.length === RECENT) this.recent.pop();
    this.recent.unshift({ bytes: Buffer.from(bytes.subarray(i, j)), utf8 });
    return utf8;
  }
}
