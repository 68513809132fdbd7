import { KamengError } from '../../errors.ts';

export interface StatementProblem {
  file: string;
  /** 1-based line (CSV) or row (XLSX) number in the file as the supplier sent it; 0: the file as a whole. */
  line: number;
  /** Column header as written in the file, when the problem is in one cell. */
  column?: string;
  /** 1-based column number. */
  columnNumber?: number;
  message: string;
}

export const formatProblem = (p: StatementProblem) =>
  `${p.file}${p.line > 0 ? `:${p.line}` : ''}${p.columnNumber ? `:${p.columnNumber}` : ''}${p.column ? ` (${p.column})` : ''}: ${p.message}`;

/** A statement file that cannot be trusted as a whole: nothing from it is written. */
export class StatementFormatError extends KamengError {
  readonly problems: StatementProblem[];
  readonly totalProblems: number;
  constructor(file: string, problems: StatementProblem[], totalProblems = problems.length) {
    const shown = problems.slice(0, 20).map(formatProblem).join('\n  ');
    const more = totalProblems > 20 ? `\n  ... and ${totalProblems - 20} more` : '';
    super('STATEMENT_FORMAT_ERROR', `statement ${file} was rejected (${totalProblems} problem${totalProblems === 1 ? '' : 's'}); nothing was written:\n  ${shown}${more}`, {
      details: { file, totalProblems, problems: problems.slice(0, 100) },
    });
    this.problems = problems;
    this.totalProblems = totalProblems;
  }
}

/** The file is not CSV as the streaming reader takes it (a stray quote, a lone CR, bytes not of the encoding). */
export class CsvStructureError extends Error {}
