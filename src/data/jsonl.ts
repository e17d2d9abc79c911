/**
 * JSON Lines files as tables: one JSON object per line; each key is a column. Numbers, booleans and
 * strings are detected as for CSV (numeric, bool, categorical, text); arrays of numbers become
 * fixed-shape columns (e.g. `"ids": [3, 14, 15]` → int64 [3]); nested objects flatten to `a.b` keys.
 * Every line must have the same keys. Errors name the file, line and key.
 */
import { FileFormatError } from '../util/errors.js';
import { readText, type TextTableOptions } from './csv.js';
import { type ColumnSchema, ColumnSniffer, type RawValue, encodeArray, encodeScalar, vocabularyIndex } from './sniff.js';
import { type Column, type Table, allocateColumn } from './table.js';

/** Reads a JSONL file into a table. */
export function readJsonl(path: string, options: TextTableOptions = {}): Table {
  return parseJsonl(readText(path, 'a JSONL file'), path, options);
}

/** One parsed line: flattened key → value, and its 1-based line number. */
export interface JsonlRecord {
  values: Map<string, RawValue>;
  line: number;
}

/** Parses one JSONL line into flattened key → value pairs. */
export function parseJsonlLine(text: string, file: string, line: number): Map<string, RawValue> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(file, `line ${line}: not valid JSON (${(err as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new FileFormatError(file, `line ${line}: expected a JSON object, found ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  const out = new Map<string, RawValue>();
  const flatten = (o: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix + k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${key}.`);
      else out.set(key, v as RawValue);
    }
  };
  flatten(obj as Record<string, unknown>, '');
  return out;
}

/** Splits JSONL text into parsed records (blank lines skipped). */
export function* jsonlRecords(text: string, file: string): Generator<JsonlRecord> {
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    if (s !== '') yield { values: parseJsonlLine(s, file, line), line };
    start = end + 1;
  }
}

/** Parses JSONL text (see `readJsonl`). */
export function parseJsonl(text: string, file: string, options: TextTableOptions = {}): Table {
  const records = [...jsonlRecords(text, file)];
  if (records.length === 0) throw new FileFormatError(file, 'no JSON objects in the file');
  const keys = [...records[0]!.values.keys()];
  const keySet = new Set(keys);
  for (const r of records) {
    for (const k of keys) {
      if (r.values.has(k)) continue;
      // An object where line 1 has a value is flattened into `k.…` keys: say so rather than "missing".
      if ([...r.values.keys()].some((x) => x.startsWith(`${k}.`))) throw new FileFormatError(file, `line ${r.line}: '${k}' is an object here but a value on line ${records[0]!.line}`);
      throw new FileFormatError(file, `line ${r.line}: missing key '${k}' (line ${records[0]!.line} has it)`);
    }
    if (r.values.size !== keys.length) {
      const extra = [...r.values.keys()].find((k) => !keySet.has(k))!;
      throw new FileFormatError(file, `line ${r.line}: key '${extra}' is not on line ${records[0]!.line} (every line needs the same keys)`);
    }
  }
  for (const k of Object.keys(options.columnTypes ?? {})) if (!keySet.has(k)) throw new FileFormatError(file, `--column-type ${k}: no such key (keys: ${keys.join(', ')})`);
  const schemas: ColumnSchema[] = keys.map((name) => {
    const forced = options.vocabularies?.[name];
    if (forced) return { name, dtype: 'int64', shape: [], kind: 'categorical', vocabulary: [...forced] };
    const sn = new ColumnSniffer(name, file, options.columnTypes?.[name]);
    for (const r of records) sn.add(r.values.get(name)!, r.line);
    return sn.schema();
  });
  const columns: Column[] = schemas.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const data = allocateColumn(s.dtype, records.length * size);
    const index = vocabularyIndex(s);
    const strict = options.strictColumns?.includes(s.name);
    records.forEach((r, i) => {
      const v = r.values.get(s.name)!;
      const where = () => `${file}: line ${r.line}`;
      if (strict && index && !index.has(String(v).trim())) throw new FileFormatError(file, `line ${r.line}, key '${s.name}': '${String(v)}' is not one of the ${index.size} known values`);
      if (s.shape.length) encodeArray(s, v, data, i * size, where);
      else encodeScalar(s, v, data, i, index, where);
    });
    return { name: s.name, dtype: s.dtype, shape: [...s.shape], data, kind: s.kind, ...(s.vocabulary ? { vocabulary: s.vocabulary } : {}), ...(s.numeric ? { facts: s.numeric } : {}) } as Column;
  });
  return { source: file, count: records.length, columns };
}
