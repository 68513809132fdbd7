import { isAscii, isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';
import { CsvStructureError } from './errors.ts';
import { GbkToUtf8 } from './gbk-to-utf8.ts';

const NL = 0x0a;

/**
 * A statement's bytes as UTF-8, in pieces that end at a line feed, refused (CsvStructureError) at
 * a NUL or at bytes that are not the encoding, as the streaming reader refuses them. A line feed
 * is never part of a UTF-8 or GBK character, so each piece decodes on its own.
 */
export function utf8Lines(encoding: 'utf8' | 'gbk'): Transform {
  let carry: Buffer | undefined;
  const gbk = new GbkToUtf8();
  const piece = (bytes: Buffer): Buffer => {
    if (bytes.indexOf(0) !== -1) throw new CsvStructureError('a NUL byte: this is not a text file');
    if (isAscii(bytes)) return bytes;
    if (encoding === 'utf8') {
      if (!isUtf8(bytes)) throw new CsvStructureError('bytes that are not valid UTF-8');
      return bytes;
    }
    const utf8 = gbk.convert(bytes);
    if (!utf8) throw new CsvStructureError('bytes that are not valid GBK');
    return utf8;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const data = carry ? Buffer.concat([carry, chunk]) : chunk;
      const end = data.lastIndexOf(NL) + 1;
      carry = end < data.length ? data.subarray(end) : undefined;
      try {
        done(null, end > 0 ? piece(data.subarray(0, end)) : undefined);
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        done(null, carry?.length ? piece(carry) : undefined);
      } catch (err) {
        done(err as Error);
      }
    },
  });
}
