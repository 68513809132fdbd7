import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRows, parsedCsvRows } from '../src/files/tabular.ts';

// csvRows splits plain lines itself and leaves the rest of a file to csv-parse from the first line
// that is not plain (src/files/tabular.ts, plainCsvRows). Whatever the file, it must read what
// csv-parse alone reads (parsedCsvRows): the same rows with the same line numbers, or the same error.

/** FUZZ_SEED=<seed> replays a reported failure. */
const seeded = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : { seed: 20_261_201 };

let dir: string;
let files = 0;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-csv-rows-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(bytes: Buffer | string): Promise<string> {
  const file = path.join(dir, `f${files++}.csv`);
  await fs.writeFile(file, bytes);
  return file;
}

type Read = { rows: { cells: unknown[]; line: number }[] } | { error: { kind: string; message: string; line: unknown } };

async function read(rows: AsyncGenerator<{ cells: unknown[]; line: number }>): Promise<Read> {
  const out: { cells: unknown[]; line: number }[] = [];
  try {
    for await (const row of rows) out.push(row);
  } catch (err) {
    // the rows read before an error are not compared: csv-parse's own depend on its stream buffers
    return { error: { kind: (err as Error).constructor.name, message: (err as Error).message, line: (err as { line?: number }).line } };
  }
  return { rows: out };
}

async function bothRead(bytes: Buffer | string, delimiter?: string) {
  const file = await write(bytes);
  const options = delimiter ? { delimiter } : {};
  return { plain: await read(csvRows(file, 'auto', 'codes.csv', options)), parsed: await read(parsedCsvRows(file, 'auto', 'codes.csv', options)) };
}

const gbk = (text: string) => iconv.encode(text, 'gbk');

describe('csvRows (plain lines split directly) reads what csv-parse reads', () => {
  const cases: [string, Buffer | string][] = [
    ['LF', 'sku,serial,code\nA,1,x\nA,2,y\n'],
    ['CRLF', 'sku,serial,code\r\nA,1,x\r\nA,2,y\r\n'],
    ['no final line ending', 'sku,serial,code\nA,1,x'],
    ['no final line ending, CRLF', 'sku,serial,code\r\nA,1,x'],
    ['a BOM', '\uFEFFsku,serial,code\nA,1,x\n'],
    ['two BOMs', '\uFEFF\uFEFFsku,serial,code\nA,1,x\n'],
    ['blank lines', '\n\nsku,serial,code\n\n\nA,1,x\n\n'],
    ['blank lines, CRLF', '\r\n\r\nsku,serial,code\r\n\r\nA,1,x\r\n\r\n'],
    ['blank-looking lines', 'sku,serial,code\n  \n,,\nA,1,x\n'],
    ['quoted cells', 'sku,serial,code\nA,"1,5","x ""y"""\nA,2,z\n'],
    ['a quoted header', '"sku",serial,code\nA,1,x\n'],
    ['line breaks in quotes', 'sku,serial,code\nA,1,"x\ny"\nA,2,"p\r\nq\rr"\nA,3,z\n'],
    ['line breaks in quotes, CRLF', 'sku,serial,code\r\nA,1,"x\r\ny"\r\nA,2,z\r\n'],
    ['a stray quote', 'sku,serial,code\nA,1,x\nA,2,ab"c\nA,3,z\n'],
    ['a quote never closed', 'sku,serial,code\nA,1,x\nA,2,"abc\nA,3,z\n'],
    ['text after a closing quote', 'sku,serial,code\nA,1,"x"y\n'],
    ['LF then CRLF', 'sku,serial,code\nA,1,x\r\nA,2,y\n'],
    ['CRLF then LF', 'sku,serial,code\r\nA,1,x\nA,2,y\r\n'],
    ['CR alone ending lines', 'sku,serial,code\rA,1,x\rA,2,y'],
    ['a CR inside a line', 'sku,serial,code\nA,1,x\ry\n'],
    ['a CR at the very end', 'sku,serial,code\nA,1,x\r'],
    ['a CR at the very end, CRLF', 'sku,serial,code\r\nA,1,x\r'],
    ['only line endings', '\n\r\n\n'],
    ['empty', ''],
    ['no line ending at all', 'sku,serial,code'],
    ['GBK', gbk('商品编码,卡号,卡密\r\nA,卡1,密码\r\nA,"卡,2",密\r\n')],
    ['GBK with a byte that is not GBK', Buffer.concat([gbk('商品编码,卡号,卡密\nA,卡1,密码\n'), Buffer.from([0xff, 0x0a])])],
    ['UTF-8 with a byte that is not UTF-8', Buffer.concat([Buffer.from('sku,serial,code\nA,卡1,x\nA,2,'), Buffer.from([0xe5, 0x41, 0x0a])])],
    ['a NUL', 'sku,serial,code\nA,1,x\u0000y\n'],
    ['a line of 1.5 MB', `sku,serial,code\nA,1,${'x'.repeat(1_500_000)}\nB,2,y\n`],
    ['a first line of 1.5 MB', `sku,serial,${'x'.repeat(1_500_000)}\r\nB,2,y\r\n`],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const { plain, parsed } = await bothRead(bytes);
      expect(plain).toEqual(parsed);
    });
  }

  it('a long file whose first quote, odd line ending or bad byte comes chunks after its start', async () => {
    const head = Array.from({ length: 5_000 }, (_, i) => `SKU-1,SN${i},CODE-${i.toString(36)}-卡密,2031-12-31`);
    for (const ending of ['\n', '\r\n']) {
      const body = head.join(ending);
      for (const tail of [`${ending}A,"x${ending}y",z${ending}B,1,2`, `${ending}A,x"y,z`, `${ending}A,x\ry`, '\nA,1,2\n', `${ending}"q`]) {
        const { plain, parsed } = await bothRead(`sku,serial,code,expires_at${ending}${body}${tail}`);
        expect(plain).toEqual(parsed);
        expect('rows' in plain ? plain.rows.length : 1).toBeGreaterThan(0);
      }
      const bad = Buffer.concat([Buffer.from(`sku,serial,code${ending}${body}`), Buffer.from([0xff]), Buffer.from(`${ending}A,1,2`)]);
      const { plain, parsed } = await bothRead(bad);
      expect(plain).toEqual(parsed);
      expect(plain).toMatchObject({ error: { kind: 'FileFormatError', line: 5_001 } });
    }
  });

  it('generated files: quoted cells, line breaks in quotes, LF, CRLF and CR, BOM, GBK, blank lines, stray quotes, bad bytes', async () => {
    const plainCell = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', ' ', '卡', '密', '=', '\t', ';'), maxLength: 8 });
    const quotedCell = fc.string({ unit: fc.constantFrom('a', ',', '""', '\n', '\r\n', '\r', '卡', ' ', ';'), maxLength: 6 }).map((s) => `"${s}"`);
    const strayQuote = fc.tuple(plainCell, plainCell).map(([a, b]) => `${a}"${b}`);
    const cell = fc.oneof({ arbitrary: plainCell, weight: 20 }, { arbitrary: quotedCell, weight: 2 }, { arbitrary: strayQuote, weight: 1 });
    const line = fc.oneof({ arbitrary: fc.array(cell, { minLength: 1, maxLength: 5 }), weight: 8 }, { arbitrary: fc.constant([] as string[]), weight: 1 });
    const ending = fc.constantFrom('\n', '\r\n', '\r');
    const file = fc.record({
      lines: fc.array(fc.tuple(line, fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: ending, weight: 1 })), { maxLength: 30 }),
      ending,
      /** plain lines before the generated ones: the interesting part then comes chunks into the file */
      lead: fc.constantFrom(0, 0, 0, 3_000),
      finalEnding: fc.boolean(),
      bom: fc.boolean(),
      encoding: fc.constantFrom('utf8', 'utf8', 'gbk'),
      badByteAt: fc.option(fc.nat(), { freq: 6 }),
      delimiter: fc.constantFrom(',', ',', ',', ';', '\t'),
    });
    await fc.assert(fc.asyncProperty(file, async (f) => {
      const lead = Array.from({ length: f.lead }, (_, i) => [`SKU${f.delimiter}SN${i}${f.delimiter}code-${i}`, undefined] as const);
      const lines = [...lead, ...f.lines.map(([cells, end]) => [cells.join(f.delimiter), end] as const)];
      let text = lines.map(([l, end], i) => l + (i < lines.length - 1 || f.finalEnding ? end ?? f.ending : '')).join('');
      if (f.bom) text = `\uFEFF${text}`;
      let bytes = f.encoding === 'gbk' ? gbk(text) : Buffer.from(text);
      if (f.badByteAt !== null && bytes.length > 0) {
        const at = f.badByteAt % bytes.length;
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at)]);
      }
      const { plain, parsed } = await bothRead(bytes, f.delimiter);
      expect(plain).toEqual(parsed);
    }), { numRuns: 400, ...seeded });
  });
});
