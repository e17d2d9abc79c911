/**
 * Streaming CSV/JSONL for files larger than memory. `openStream` scans the file once (column types,
 * vocabularies, row count, shard boundaries; memory bounded by the distinct values kept per column) and
 * returns one `TableStream` per split: rows go to train / validation / test by a seeded hash of their row
 * number, so no split is ever held in memory. Training reads shards in a seeded random order through a
 * shuffle buffer (sharded shuffle, as tf.data / WebDataset do); the position — shard, byte offset, the
 * buffered lines and the RNG — is plain JSON that a checkpoint stores, so a resumed run reads exactly the
 * rows a straight run would. Evaluation reads its split in file order.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileFormatError, TrainferError } from '../util/errors.js';
import { Rng, type RngState } from '../util/rng.js';
import { checkHeader, csvRecords } from './csv.js';
import { parseJsonlLine } from './jsonl.js';
import { type ColumnSchema, type ColumnTypeHint, ColumnSniffer, type RawValue, encodeArray, encodeScalar, vocabularyIndex } from './sniff.js';
import { type Column, type Table, allocateColumn } from './table.js';

/** Options for `openStream`. */
export interface OpenStreamOptions {
  path: string;
  /** Fraction of rows for testing (default 0.2). */
  testFraction?: number;
  /** Fraction of the remaining rows for validation (default 0). */
  validationSplit?: number;
  /** Seed of the split hash (default 0). */
  seed?: number;
  columnTypes?: Readonly<Record<string, ColumnTypeHint>>;
  /** Target bytes per shard (default 4 MiB). */
  shardBytes?: number;
  /** Rows held in the shuffle buffer (default 8192). */
  shuffleBuffer?: number;
}

/** The resumable position of a training stream inside an epoch. */
export interface StreamState {
  rng: number[];
  order: number[];
  /** Index into `order` of the shard being read. */
  shard: number;
  /** Byte offset of the next unread line in the file. */
  offset: number;
  /** Row number (data rows, 0-based) of that line. */
  row: number;
  /** Lines waiting in the shuffle buffer. */
  buffer: string[];
}

interface Shard {
  start: number;
  end: number;
  firstRow: number;
}

interface FileScan {
  path: string;
  format: 'csv' | 'jsonl';
  header: string[];
  schemas: ColumnSchema[];
  shards: Shard[];
  rows: number;
  delimiter: string;
}

const BLOCK = 1 << 16;

/** Reads `path` line by line from byte `from` to `to`: yields (text, start offset, end offset). */
function* lines(fd: number, from: number, to: number): Generator<{ text: string; start: number; next: number }> {
  let pos = from;
  let carry = Buffer.alloc(0);
  let carryStart = from;
  const buf = Buffer.allocUnsafe(BLOCK);
  while (pos < to || carry.length) {
    const n = pos < to ? readSync(fd, buf, 0, Math.min(BLOCK, to - pos), pos) : 0;
    const chunk = n > 0 ? Buffer.concat([carry, buf.subarray(0, n)]) : carry;
    pos += n;
    let i = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, i);
      if (nl < 0) break;
      yield { text: chunk.toString('utf8', i, nl).replace(/\r$/, ''), start: carryStart + i, next: carryStart + nl + 1 };
      i = nl + 1;
    }
    if (n === 0) {
      if (i < chunk.length) yield { text: chunk.toString('utf8', i).replace(/\r$/, ''), start: carryStart + i, next: carryStart + chunk.length };
      return;
    }
    carry = Buffer.from(chunk.subarray(i));
    carryStart += i;
  }
}

function splitCsvLine(text: string, delimiter: string, file: string, line: number): string[] {
  const recs = [...csvRecords(text, delimiter)];
  if (recs.length !== 1) throw new FileFormatError(file, `row ${line}: a quoted field spans lines; streaming needs one record per line`);
  return recs[0]!.cells;
}

/** Scans a CSV/JSONL file once: header, column schemas, rows, shard boundaries. */
function scanFile(o: OpenStreamOptions): FileScan {
  const path = o.path;
  const p = path.toLowerCase();
  const format = p.endsWith('.jsonl') || p.endsWith('.ndjson') ? 'jsonl' : 'csv';
  const delimiter = p.endsWith('.tsv') ? '\t' : ',';
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FileFormatError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    const shardBytes = o.shardBytes ?? 4 << 20;
    let header: string[] | undefined;
    let sniffers: ColumnSniffer[] = [];
    const shards: Shard[] = [];
    let rows = 0;
    let lineNo = 0;
    let shardStart = -1;
    for (const l of lines(fd, 0, size)) {
      lineNo++;
      if (l.text.trim() === '') continue;
      let values: RawValue[];
      if (format === 'csv') {
        const cells = splitCsvLine(l.text, delimiter, path, lineNo);
        if (!header) {
          header = cells.map((c) => c.trim());
          checkHeader(header, path, lineNo);
          sniffers = header.map((h) => new ColumnSniffer(h, path, o.columnTypes?.[h]));
          continue;
        }
        if (cells.length !== header.length) throw new FileFormatError(path, `line ${lineNo} has ${cells.length} fields but the header has ${header.length}`);
        values = cells;
      } else {
        const rec = parseJsonlLine(l.text, path, lineNo);
        if (!header) {
          header = [...rec.keys()];
          sniffers = header.map((h) => new ColumnSniffer(h, path, o.columnTypes?.[h]));
        }
        if (rec.size !== header.length || header.some((h) => !rec.has(h))) throw new FileFormatError(path, `line ${lineNo}: keys ${[...rec.keys()].join(', ')} differ from the first line's ${header.join(', ')}`);
        values = header.map((h) => rec.get(h)!);
      }
      if (shardStart < 0 || l.start - shardStart >= shardBytes) {
        if (shards.length) shards[shards.length - 1]!.end = l.start;
        shards.push({ start: l.start, end: size, firstRow: rows });
        shardStart = l.start;
      }
      values.forEach((v, i) => sniffers[i]!.add(v, lineNo));
      rows++;
    }
    if (!header || rows === 0) throw new FileFormatError(path, 'no data rows');
    return { path, format, header, schemas: sniffers.map((s) => s.schema()), shards, rows, delimiter };
  } finally {
    closeSync(fd);
  }
}

/** Which split a row belongs to: a seeded hash of its row number. */
function bucket(row: number, seed: number): number {
  let h = (row ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Rows of one split of a file, read in chunks without holding the file in memory. */
export class TableStream {
  /** Tags the stream (a fit/evaluate data argument is a `Table` or a `TableStream`). */
  readonly kind = 'stream' as const;
  /** Rows in this split. */
  readonly count: number;
  readonly source: string;
  private readonly indexes: (Map<string, number> | undefined)[];
  private st?: StreamState;

  /** @internal Built by `openStream`. */
  constructor(
    private readonly scan: FileScan,
    private readonly member: (row: number) => boolean,
    count: number,
    source: string,
    private readonly shuffleBuffer: number,
  ) {
    this.count = count;
    this.source = source;
    this.indexes = scan.schemas.map((s) => vocabularyIndex(s));
  }

  /** An empty table with this stream's columns (for planning feeds). */
  schemaTable(): Table {
    return this.emptyTable(0);
  }

  private emptyTable(n: number): Table {
    const columns: Column[] = this.scan.schemas.map((s) => ({ name: s.name, dtype: s.dtype, shape: [...s.shape], kind: s.kind, data: allocateColumn(s.dtype, n * s.shape.reduce((a, b) => a * b, 1)), ...(s.vocabulary ? { vocabulary: s.vocabulary } : {}), ...(s.numeric ? { facts: s.numeric } : {}) }));
    return { source: this.source, count: n, columns };
  }

  /** Encodes raw lines into a table of their rows. */
  private toTable(rowsText: readonly string[]): Table {
    const t = this.emptyTable(rowsText.length);
    rowsText.forEach((text, i) => {
      const where = () => `${this.scan.path}: a row`;
      const values: RawValue[] = this.scan.format === 'csv' ? splitCsvLine(text, this.scan.delimiter, this.scan.path, 0) : (() => {
        const rec = parseJsonlLine(text, this.scan.path, 0);
        return this.scan.header.map((h) => rec.get(h) ?? null);
      })();
      this.scan.schemas.forEach((s, c) => {
        const size = s.shape.reduce((a, b) => a * b, 1);
        if (s.shape.length) encodeArray(s, values[c]!, t.columns[c]!.data, i * size, where);
        else encodeScalar(s, values[c]!, t.columns[c]!.data, i, this.indexes[c], where);
      });
    });
    return t;
  }

  /** Batches of this split in file order (evaluation). */
  *batches(size: number): Generator<Table> {
    const fd = openSync(this.scan.path, 'r');
    try {
      let pending: string[] = [];
      for (const sh of this.scan.shards) {
        let row = sh.firstRow;
        for (const l of lines(fd, sh.start, sh.end)) {
          if (l.text.trim() === '') continue;
          if (this.member(row++)) pending.push(l.text);
          if (pending.length === size) {
            yield this.toTable(pending);
            pending = [];
          }
        }
      }
      if (pending.length) yield this.toTable(pending);
    } finally {
      closeSync(fd);
    }
  }

  /** Starts a shuffled epoch from an RNG state (the trainer's shuffle RNG at the epoch's start). */
  startEpoch(rng: RngState): void {
    const r = Rng.fromState(rng);
    const order = [...r.permutation(this.scan.shards.length)];
    const first = this.scan.shards[order[0]!]!;
    this.st = { rng: [...r.state()], order, shard: 0, offset: first.start, row: first.firstRow, buffer: [] };
  }

  /** The position inside the epoch (JSON; `restore` continues from it exactly). */
  state(): StreamState {
    if (!this.st) throw new TrainferError('stream: no epoch started');
    return { ...this.st, order: [...this.st.order], buffer: [...this.st.buffer] };
  }

  /** Continues from a saved `state()`. */
  restore(s: StreamState): void {
    this.st = { ...s, order: [...s.order], buffer: [...s.buffer] };
  }

  /** The next `n` rows of the shuffled epoch as a table (fewer when the epoch runs out). */
  nextBatch(n: number): Table {
    const st = this.st;
    if (!st) throw new TrainferError('stream: no epoch started');
    const rng = Rng.fromState(st.rng as unknown as RngState);
    const out: string[] = [];
    const fd = openSync(this.scan.path, 'r');
    try {
      while (out.length < n) {
        this.refill(fd, st);
        if (st.buffer.length === 0) break;
        const j = rng.int(st.buffer.length);
        const last = st.buffer.length - 1;
        [st.buffer[j], st.buffer[last]] = [st.buffer[last]!, st.buffer[j]!];
        out.push(st.buffer.pop()!);
      }
    } finally {
      closeSync(fd);
    }
    st.rng = [...rng.state()];
    return this.toTable(out);
  }

  /** Tops the shuffle buffer up from the shards, in the epoch's order. */
  private refill(fd: number, st: StreamState): void {
    while (st.buffer.length < this.shuffleBuffer && st.shard < st.order.length) {
      const sh = this.scan.shards[st.order[st.shard]!]!;
      let done = true;
      for (const l of lines(fd, st.offset, sh.end)) {
        st.offset = l.next;
        if (l.text.trim() === '') continue;
        if (this.member(st.row++)) st.buffer.push(l.text);
        if (st.buffer.length >= this.shuffleBuffer) {
          done = st.offset >= sh.end;
          break;
        }
      }
      if (done) {
        st.shard++;
        if (st.shard < st.order.length) {
          const next = this.scan.shards[st.order[st.shard]!]!;
          st.offset = next.start;
          st.row = next.firstRow;
        }
      }
    }
  }
}

/** Streams of a file's splits. */
export interface StreamSplits {
  train: TableStream;
  validation?: TableStream;
  test: TableStream;
}

/**
 * Scans `path` once and returns train / validation / test streams over it.
 *
 * @example
 * const { train, test } = openStream({ path: 'clicks.csv', validationSplit: 0.05 });
 * await fit({ model, train, target: 'clicked', … });
 */
export function openStream(o: OpenStreamOptions): StreamSplits {
  const scan = scanFile(o);
  const seed = o.seed ?? 0;
  const tf = o.testFraction ?? 0.2;
  const vf = (o.validationSplit ?? 0) * (1 - tf);
  if (!(tf >= 0 && tf < 1 && vf >= 0 && tf + vf < 1)) throw new TrainferError(`${o.path}: test fraction ${tf} and validation split ${o.validationSplit} leave no training rows`);
  const of = (row: number) => bucket(row, seed);
  const isTest = (row: number) => of(row) < tf;
  const isVal = (row: number) => { const h = of(row); return h >= tf && h < tf + vf; };
  const isTrain = (row: number) => of(row) >= tf + vf;
  let nTest = 0;
  let nVal = 0;
  for (let r = 0; r < scan.rows; r++) {
    if (isTest(r)) nTest++;
    else if (isVal(r)) nVal++;
  }
  const buf = o.shuffleBuffer ?? 8192;
  const nTrain = scan.rows - nTest - nVal;
  if (nTrain === 0 || nTest === 0) throw new TrainferError(`${o.path}: only ${scan.rows} rows; too few to split`);
  return {
    train: new TableStream(scan, isTrain, nTrain, o.path, buf),
    validation: nVal > 0 ? new TableStream(scan, isVal, nVal, `${o.path} (validation split)`, buf) : undefined,
    test: new TableStream(scan, isTest, nTest, `${o.path} (test split)`, buf),
  };
}
