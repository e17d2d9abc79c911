/**
 * CSV files as tables of typed columns: a header row names the columns; each column is detected as
 * numeric (int64 or float32), bool, categorical (int64 ids with a sorted vocabulary) or text (strings),
 * or forced with `columnTypes`. RFC 4180 quoting (`"a, b"`, `""` escapes, newlines inside quotes); `.tsv`
 * files split on tabs. Errors name the file, line and column.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '../util/errors.js';
import { type ColumnSchema, type ColumnTypeHint, ColumnSniffer, encodeScalar, vocabularyIndex } from './sniff.js';
import { type Column, type Table, allocateColumn } from './table.js';

/** Options for `readCsv` / `parseCsv` (and `readJsonl`). */
export interface TextTableOptions {
  /** Force a column's type by name (`categorical` for integer codes, `text` for free text, …). */
  columnTypes?: Readonly<Record<string, ColumnTypeHint>>;
  /**
   * Vocabularies to encode categorical columns with (the training file's, or an exported model's): the
   * same strings get the same ids. An unknown category gets id `vocabulary.length` (the unknown bucket),
   * except in `strictColumns`.
   */
  vocabularies?: Readonly<Record<string, readonly string[]>>;
  /** Columns whose every category must be in `vocabularies` (targets): an unknown one is an error. */
  strictColumns?: readonly string[];
}

/** Options for `readCsv` / `parseCsv`. */
export interface CsvOptions extends TextTableOptions {
  /** Field separator (default `,`; `\t` for `.tsv` files). */
  delimiter?: string;
}

/** Reads a CSV file into a table. */
export function readCsv(path: string, options: CsvOptions = {}): Table {
  return parseCsv(readText(path, 'a CSV file'), path, { delimiter: path.toLowerCase().endsWith('.tsv') ? '\t' : ',', ...options });
}

/** Reads a UTF-8 text file (a byte-order mark is dropped); errors name the file, and the line of the first byte that is not UTF-8. */
export function readText(path: string, what: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? `is a directory, not ${what}` : (err as Error).message, { cause: err });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FileFormatError(path, `${invalidUtf8At(bytes)} is not UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)`);
  }
}

/** Where the first byte sequence that is not UTF-8 is: `line N, byte 0xff`. */
function invalidUtf8At(bytes: Buffer): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      strict.decode(bytes.subarray(start, end));
    } catch {
      // Byte by byte through one streaming decoder: it throws at the first byte that cannot continue.
      const stream = new TextDecoder('utf-8', { fatal: true });
      for (let k = start; k < end; k++) {
        try {
          stream.decode(bytes.subarray(k, k + 1), { stream: true });
        } catch {
          // A byte that validly starts a character fails only because the one before it is unfinished: name that one.
          const validStart = (b: number) => b < 0x80 || (b >= 0xc2 && b <= 0xf4);
          let at = k;
          if (validStart(bytes[k]!) && k > start) for (at = k - 1; at > start && (bytes[at]! & 0xc0) === 0x80; ) at--;
          return `line ${line}: byte 0x${bytes[at]!.toString(16).padStart(2, '0')}`;
        }
      }
      return `line ${line}: an unfinished character`;
    }
    start = end + 1;
  }
  return 'the end of the file';
}

/** One CSV record: its fields and the 1-based line it starts on. */
export interface CsvRecord {
  cells: string[];
  line: number;
}

/** Splits CSV text into records (blank lines skipped), honouring quotes, `""` escapes and quoted newlines. */
export function* csvRecords(text: string, delimiter = ','): Generator<CsvRecord> {
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    let cur = '';
    let quoted = false;
    let any = false;
    for (; i < n; i++) {
      const ch = text[i]!;
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            cur += '"';
            i++;
          } else quoted = false;
        } else {
          if (ch === '\n') line++;
          cur += ch;
        }
        continue;
      }
      if (ch === '"') {
        quoted = true;
        any = true;
      } else if (ch === delimiter) {
        cells.push(cur);
        cur = '';
        any = true;
      } else if (ch === '\n' || ch === '\r') {
        if (ch === '\r' && text[i + 1] === '\n') i++;
        i++;
        line++;
        break;
      } else {
        cur += ch;
        if (ch !== ' ' && ch !== '\t') any = true;
      }
    }
    if (quoted) throw new FileFormatError('', `line ${start}: unterminated quoted field`);
    cells.push(cur);
    if (any || cells.length > 1 || cur.trim() !== '') yield { cells, line: start };
  }
}

/** Checks a header row: names present, unique, and not data. */
export function checkHeader(header: readonly string[], file: string, line: number): void {
  if (header.every((h) => h !== '' && Number.isFinite(Number(h)))) {
    throw new FileFormatError(file, `line ${line}: the first row holds numbers (${header.slice(0, 4).join(', ')}${header.length > 4 ? ', …' : ''}), not column names: add a header row naming the columns`);
  }
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new FileFormatError(file, `line ${line}: column ${i + 1} of the header has no name`);
    if (seen.has(h)) throw new FileFormatError(file, `line ${line}: column name '${h}' appears twice in the header`);
    seen.add(h);
  });
}

/** Parses CSV text (see `readCsv`). `file` names the source in errors. */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): Table {
  const delimiter = options.delimiter ?? ',';
  let records: CsvRecord[];
  try {
    records = [...csvRecords(text, delimiter)];
  } catch (err) {
    if (err instanceof FileFormatError && err.file === '') throw new FileFormatError(file, err.message.replace(/^: /, ''));
    throw err;
  }
  if (records.length === 0) throw new FileFormatError(file, 'empty file: expected a header row and data rows');
  const head = records[0]!;
  const header = head.cells.map((h) => h.trim());
  checkHeader(header, file, head.line);
  const rows = records.slice(1);
  if (rows.length === 0) throw new FileFormatError(file, 'no data rows after the header');
  for (const r of rows) {
    if (r.cells.length !== header.length) throw new FileFormatError(file, `line ${r.line} has ${r.cells.length} fields but the header has ${header.length}`);
  }
  const schemas = header.map((name, c) => {
    const forced = options.vocabularies?.[name];
    if (forced) return { name, dtype: 'int64', shape: [], kind: 'categorical', vocabulary: [...forced] } satisfies ColumnSchema;
    const sn = new ColumnSniffer(name, file, options.columnTypes?.[name]);
    for (const r of rows) sn.add(r.cells[c]!, r.line);
    return sn.schema();
  });
  for (const k of Object.keys(options.columnTypes ?? {})) if (!header.includes(k)) throw new FileFormatError(file, `--column-type ${k}: no such column (columns: ${header.join(', ')})`);
  const columns: Column[] = schemas.map((s, c) => {
    const data = allocateColumn(s.dtype, rows.length);
    const index = vocabularyIndex(s);
    const strict = options.strictColumns?.includes(s.name);
    rows.forEach((r, i) => {
      const cell = r.cells[c]!;
      if (strict && index && !index.has(cell.trim())) {
        throw new FileFormatError(file, `line ${r.line}, column '${s.name}': '${cell.trim()}' is not one of the ${index.size} known values (${s.vocabulary!.slice(0, 8).join(', ')}${index.size > 8 ? ', …' : ''})`);
      }
      encodeScalar(s, cell, data, i, index, () => `${file}: line ${r.line}`);
    });
    return { name: s.name, dtype: s.dtype, shape: [], data, kind: s.kind, ...(s.vocabulary ? { vocabulary: s.vocabulary } : {}), ...(s.numeric ? { facts: s.numeric } : {}) } as Column;
  });
  return { source: file, count: rows.length, columns };
}
