import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { GbkToUtf8 } from '../src/reconciliation/statement/gbk-to-utf8.ts';

/** What staging read before: the whole piece through the platform's decoder, refused at U+FFFD. */
const reference = (bytes: Buffer): Buffer | undefined => {
  const text = new TextDecoder('gbk').decode(bytes);
  return text.includes('\uFFFD') ? undefined : Buffer.from(text, 'utf8');
};

const gbk = (text: string) => iconv.encode(text, 'gb18030');
/** Statement-like text: ASCII cells with Chinese words, GBK's ASCII-range trail bytes (e.g. 丂 = 81 40), four-byte GB18030 (€ is 0x80, 𠀀 four bytes). */
const pieces = fc.constantFrom('充值成功', '充值失败', '处理中', '已退款', '合计', '丂', '乗', '€', '𠀀', 'ÿ', 'T1,bench-1,CM50,48.50,', '2026/11/24 9:05:01', ',', '\r\n', '\n', '"', ' ', '@', '|', '\\');
const statementText = fc.array(pieces, { maxLength: 40 }).map((a) => a.join(''));
const damage = fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a));

describe('GBK statements are read as the decoder reads them, faster', () => {
  it('converts GBK text exactly as the decoder does, however its runs repeat', () => {
    const converter = new GbkToUtf8();
    fc.assert(fc.property(statementText, (text) => {
      const bytes = gbk(text);
      expect(converter.convert(bytes)?.toString('utf8')).toBe(reference(bytes)?.toString('utf8'));
    }), { numRuns: 3000 });
  });

  it('refuses what the decoder refuses and reads what it reads, for any bytes', () => {
    const converter = new GbkToUtf8();
    fc.assert(fc.property(statementText, damage, fc.nat(), (text, noise, at) => {
      const clean = gbk(text);
      const cut = clean.length ? at % (clean.length + 1) : 0;
      const bytes = Buffer.concat([clean.subarray(0, cut), noise, clean.subarray(cut)]);
      expect(converter.convert(bytes)?.toString('hex')).toBe(reference(bytes)?.toString('hex'));
    }), { numRuns: 3000 });
  });

  it('still converts when a file has more distinct words than it remembers', () => {
    const converter = new GbkToUtf8();
    const names = Array.from({ length: 6000 }, (_, i) => `商品${String.fromCharCode(0x4e00 + (i % 20000))}${String.fromCharCode(0x4e00 + ((i * 7) % 20000))},`);
    const bytes = gbk(names.join('\n'));
    expect(converter.convert(bytes)?.toString('utf8')).toBe(names.join('\n'));
    expect(converter.convert(gbk('充值成功\n'))?.toString('utf8')).toBe('充值成功\n');
  });
});
