import { KamengError } from '../errors.ts';

export interface ImportProblem {
  file: string;
  line: number;
  column?: string;
  message: string;
}

/** A card code file rejected as a whole: nothing from it was stored. */
export class ImportRejectedError extends KamengError {
  constructor(readonly file: string, readonly problems: ImportProblem[], readonly totalProblems: number) {
    const shown = problems.slice(0, 20).map((p) => `${p.file}:${p.line}${p.column ? ` (${p.column})` : ''}: ${p.message}`).join('\n  ');
    super('IMPORT_REJECTED', `card code file ${file} was rejected (${totalProblems} problem${totalProblems === 1 ? '' : 's'}); nothing was imported:\n  ${shown}${totalProblems > 20 ? `\n  ... and ${totalProblems - 20} more` : ''}`, {
      details: { file, totalProblems, problems: problems.slice(0, 100) },
    });
  }
}

export class OutOfStockError extends KamengError {
  constructor(sku: string, wanted: number, available: number) {
    super('OUT_OF_STOCK', `SKU ${sku} is out of stock: ${wanted} wanted, ${available} available`, { details: { sku, wanted, available } });
  }
}
