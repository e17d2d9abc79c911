/**
 * Choosing the task from the target column(s) and checking targets against the model before any step:
 * a categorical target is classification (binary with two categories), integer labels 0..K-1 are
 * classification, {0, 1} is binary, several 0/1 columns (or a 0/1 array) are multi-label, anything
 * continuous is regression. Suspicious targets are refused with the reason and the flag that overrides:
 * integer labels that are not 0..K-1 ({0, 10, 20}), one stray `1.5` among integer labels.
 */
import { TrainferError } from '../util/errors.js';
import { type Column, type Table, columnSize, columnToFloat64, getColumn } from '../data/table.js';
import type { Task } from '../nn/loss.js';

/** What `inferTask` chose, and why (printed as the first line of `trainfer train`). */
export interface TaskChoice {
  task: Task;
  /** Why, in words: e.g. `target 'price' is a float column`. */
  reason: string;
  /** Outputs the head needs: classes (classification), 1 (binary), labels (multi-label), targets (regression). */
  outputs: number;
  /** Class names (categorical targets). */
  classNames?: string[];
}

/** Distinct values of a numeric column (up to `cap`; undefined beyond). */
function distinctValues(c: Column, cap = 4096): number[] | undefined {
  if (c.facts?.distinct) return c.facts.distinct;
  if (c.facts && !c.facts.distinct) return undefined;
  const set = new Set<number>();
  for (const v of columnToFloat64(c)) {
    set.add(v);
    if (set.size > cap) return undefined;
  }
  return [...set].sort((a, b) => a - b);
}

const fmtSet = (v: readonly number[]) => `{${v.slice(0, 8).join(', ')}${v.length > 8 ? ', …' : ''}}`;

/**
 * Chooses the task for `targets` (column names of `table`). `override` (`--task`) wins when the data
 * allows it; otherwise the refusal names the column and what would work.
 */
export function inferTask(o: { table: Pick<Table, 'source' | 'columns'>; targets: readonly string[]; override?: Task }): TaskChoice {
  const cols = o.targets.map((n) => getColumn(o.table, n));
  const src = o.table.source;
  const names = o.targets.map((n) => `'${n}'`).join(', ');
  const override = o.override;
  for (const c of cols) if (c.kind === 'text') throw new TrainferError(`${src}: target column '${c.name}' is text; a target must be numbers or categories`);
  const zeroOne = (c: Column) => c.dtype === 'bool' || (distinctValues(c)?.every((v) => v === 0 || v === 1) ?? false);
  const width = cols.reduce((s, c) => s + columnSize(c), 0);
  if (cols.length > 1 || columnSize(cols[0]!) > 1) {
    const cat = cols.find((c) => c.kind === 'categorical');
    if (cat) throw new TrainferError(`${src}: target column '${cat.name}' is categorical; several targets must be numbers (0/1 for multi-label)`);
    const multi = cols.every(zeroOne);
    const task = override ?? (multi ? 'multilabel' : 'regression');
    if (task === 'multilabel' && !multi) throw new TrainferError(`${src}: --task multilabel needs 0/1 targets; ${names} hold other values`);
    if (task === 'classification' || task === 'binary') throw new TrainferError(`${src}: --task ${task} takes one target column; ${names} are ${width} values per row (use multilabel or regression)`);
    return { task, reason: `${width} target values per row${multi ? ', all 0/1' : ''}`, outputs: width };
  }
  const c = cols[0]!;
  if (c.kind === 'categorical') {
    const k = c.vocabulary?.length ?? 0;
    if (k < 2) throw new TrainferError(`${src}: target column '${c.name}' has ${k} categor${k === 1 ? 'y' : 'ies'}; classification needs at least 2`);
    if (override === 'regression' || override === 'multilabel') throw new TrainferError(`${src}: target column '${c.name}' holds categories (${c.vocabulary!.slice(0, 5).join(', ')}…); --task ${override} needs numbers`);
    const task = override ?? (k === 2 ? 'binary' : 'classification');
    return { task, reason: `target '${c.name}' holds ${k} categories`, outputs: task === 'binary' ? 1 : k, classNames: [...c.vocabulary!] };
  }
  if (c.dtype === 'bool') {
    if (override === 'classification') return { task: 'classification', reason: `target '${c.name}' is true/false`, outputs: 2 };
    return { task: override ?? 'binary', reason: `target '${c.name}' is true/false`, outputs: 1 };
  }
  const distinct = distinctValues(c);
  const integral = c.facts ? c.facts.integral : !!distinct?.every((v) => Number.isInteger(v)) || (!distinct && c.dtype === 'int64');
  if (override === 'regression') return { task: 'regression', reason: '--task regression', outputs: 1 };
  if (override === 'multilabel') throw new TrainferError(`${src}: --task multilabel needs several 0/1 target columns (or one 0/1 array column); '${c.name}' is one value per row`);
  if (!integral) {
    const f = c.facts;
    const ints = f?.distinctIntegers;
    if (f && f.firstNonIntegral && ints && ints.length <= 20 && f.nonIntegral <= Math.max(3, 0.01 * f.values)) {
      throw new TrainferError(`${src}: line ${f.firstNonIntegral.line}, column '${c.name}': '${f.firstNonIntegral.text}' is not an integer, but ${f.nonIntegral === 1 ? 'every other value is' : `all but ${f.nonIntegral} values are`} (labels ${fmtSet(ints)}): fix the row, or pass --task regression for a continuous target`);
    }
    if (override) throw new TrainferError(`${src}: --task ${override} needs integer labels but target '${c.name}' holds continuous values${f?.firstNonIntegral ? ` (e.g. '${f.firstNonIntegral.text}' on line ${f.firstNonIntegral.line})` : ''}`);
    return { task: 'regression', reason: `target '${c.name}' is a float column`, outputs: 1 };
  }
  if (!distinct) {
    if (override) throw new TrainferError(`${src}: target '${c.name}' has more than 4096 distinct integers; --task ${override} needs class indices 0..K-1`);
    return { task: 'regression', reason: `target '${c.name}' has more than 4096 distinct integer values`, outputs: 1 };
  }
  const contiguous = distinct[0] === 0 && distinct.every((v, i) => v === i);
  const k = distinct.length;
  if (override === 'binary' || (!override && k === 2 && distinct[0] === 0 && distinct[1] === 1)) {
    if (!(k <= 2 && distinct.every((v) => v === 0 || v === 1))) throw new TrainferError(`${src}: --task binary needs 0/1 targets; '${c.name}' holds ${fmtSet(distinct)}`);
    return { task: 'binary', reason: `target '${c.name}' holds 0/1`, outputs: 1 };
  }
  // Binary formats (IDX labels, generated sets) carry class indices by definition: classes = max + 1.
  const indices = !c.facts && distinct[0]! >= 0 && distinct[k - 1]! < 65536;
  if (contiguous || indices) {
    const classes = distinct[k - 1]! + 1;
    if (override === 'classification' || (classes <= 1000 && classes >= 2)) return { task: 'classification', reason: `target '${c.name}' holds class indices 0..${classes - 1}`, outputs: classes };
  }
  if (k <= 20 || override === 'classification') {
    throw new TrainferError(`${src}: target '${c.name}' holds the integer labels ${fmtSet(distinct)}, not 0..K-1 (as classes that would be ${distinct[k - 1]! + 1} outputs, ${distinct[k - 1]! + 1 - k} of them never seen): pass --column-type ${c.name}=categorical to use the values as class names, or --task regression for a numeric target`);
  }
  return { task: 'regression', reason: `target '${c.name}' holds ${k} distinct integers`, outputs: 1 };
}

/**
 * Checks class-index targets against the number of classes a head has (before any step: onnxruntime
 * would fail mid-run). Throws naming the source, the sample and the range.
 */
export function checkClassTargets(t: Pick<Table, 'source' | 'columns'>, column: string, classes: number): void {
  const c = getColumn(t, column);
  const v = c.facts && c.facts.min >= 0 && c.facts.max < classes && c.facts.integral ? undefined : columnToFloat64(c);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    const l = v[i]!;
    if (!(Number.isInteger(l) && l >= 0 && l < classes)) {
      throw new TrainferError(`${t.source}: label ${l} of sample ${i} is out of range: the model has ${classes} classes (0..${classes - 1})`);
    }
  }
}
