/**
 * Built-in generated data sets with known ground truth, usable as `--data <name>`: seeded, deterministic
 * (the same rows on every machine), and small enough to generate in milliseconds.
 *
 * - `friedman1` (regression): Friedman (1991) #1, y = 10·sin(π·x1·x2) + 20·(x3 − 0.5)² + 10·x4 + 5·x5 + ε,
 *   x ~ U[0, 1]^10 (x6…x10 are noise features), ε ~ N(0, σ²) with σ = 1: the best possible RMSE on new
 *   rows (the noise floor) is σ = 1.0.
 * - `customers` (3-class tabular classification with numeric and categorical columns): a planted softmax
 *   model over age, income, tenure, visits, city (8 values) and plan (3 values) draws each row's segment;
 *   the best possible accuracy (the Bayes rate, E[max_k p_k]) is computed from the planted probabilities
 *   of the test rows and reported by `builtinInfo`.
 */
import { Rng } from '../util/rng.js';
import type { Column, Table, TableSplits } from './table.js';

/** Names accepted by `--data` for generated data sets. */
export const BUILTIN_DATA = ['friedman1', 'customers'] as const;

/** A built-in data set's name. */
export type BuiltinData = (typeof BUILTIN_DATA)[number];

/** What is known about a built-in data set. */
export interface BuiltinInfo {
  name: BuiltinData;
  task: 'regression' | 'classification';
  trainRows: number;
  testRows: number;
  target: string;
  /** One sentence for help texts. */
  description: string;
  /** The best achievable test metric: RMSE (regression) or accuracy (classification). */
  bestPossible: { metric: 'rmse' | 'accuracy'; value: number };
}

/** True when `name` is a built-in data set. */
export function isBuiltinData(name: string): name is BuiltinData {
  return (BUILTIN_DATA as readonly string[]).includes(name);
}

const FRIEDMAN_SIGMA = 1;

/** The noise-free Friedman #1 function of one row's 10 features (only the first 5 matter). */
export function friedman1Function(x: ArrayLike<number>): number {
  return 10 * Math.sin(Math.PI * x[0]! * x[1]!) + 20 * (x[2]! - 0.5) ** 2 + 10 * x[3]! + 5 * x[4]!;
}

function friedman1(n: number, seed: number, source: string): Table {
  const rng = Rng.fromSeed(seed);
  const xs = Array.from({ length: 10 }, () => new Float32Array(n));
  const y = new Float32Array(n);
  const row = new Float64Array(10);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 10; j++) {
      const v = Math.fround(rng.uniform());
      row[j] = v;
      xs[j]![i] = v;
    }
    y[i] = friedman1Function(row) + FRIEDMAN_SIGMA * rng.normal();
  }
  const columns: Column[] = xs.map((data, j) => ({ name: `x${j + 1}`, dtype: 'float32', shape: [], data, kind: 'numeric' }));
  columns.push({ name: 'y', dtype: 'float32', shape: [], data: y, kind: 'numeric' });
  return { source, count: n, columns };
}

const CITIES = ['Amsterdam', 'Berlin', 'Lisbon', 'Madrid', 'Oslo', 'Paris', 'Prague', 'Vienna'];
const PLANS = ['basic', 'plus', 'pro'];
const SEGMENTS = ['budget', 'premium', 'regular'];
// Planted model: logit_k = Σ w_k·z + city_k[c] + plan_k[p] (z = standardised numeric features).
const W = [
  [-0.6, -1.6, -0.4, -0.3], // budget
  [0.5, 1.7, 0.6, 0.9], // premium
  [0, 0, 0, 0], // regular
];
const CITY_EFFECT = [
  [0.4, -0.2, 0.6, 0.3, -0.7, -0.3, 0.5, -0.4],
  [-0.3, 0.4, -0.5, -0.2, 0.8, 0.5, -0.4, 0.3],
  [0, 0, 0, 0, 0, 0, 0, 0],
];
const PLAN_EFFECT = [
  [1.0, -0.2, -1.2],
  [-1.1, 0.1, 1.3],
  [0, 0, 0],
];

function customers(n: number, seed: number, source: string): { table: Table; bayes: number } {
  const rng = Rng.fromSeed(seed);
  const age = new BigInt64Array(n);
  const income = new Float32Array(n);
  const tenure = new BigInt64Array(n);
  const visits = new Float32Array(n);
  const city = new BigInt64Array(n);
  const plan = new BigInt64Array(n);
  const segment = new BigInt64Array(n);
  let bayes = 0;
  for (let i = 0; i < n; i++) {
    const a = 18 + Math.floor(rng.uniform() * 63);
    const inc = Math.fround(Math.exp(3.6 + 0.5 * rng.normal() + 0.01 * (a - 40))); // k€, lognormal around 37
    const t = Math.floor(rng.uniform() * 121);
    const v = Math.fround(Math.max(0, 4 + 2.5 * rng.normal()));
    const c = rng.int(CITIES.length);
    const p = rng.int(PLANS.length);
    const z = [(a - 49) / 18, (Math.log(inc) - 3.69) / 0.55, (t - 60) / 35, (v - 4) / 2.5];
    const logits = W.map((w, k) => w.reduce((s, wj, j) => s + wj * z[j]!, 0) + CITY_EFFECT[k]![c]! + PLAN_EFFECT[k]![p]!);
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const sum = e.reduce((s, x) => s + x, 0);
    const probs = e.map((x) => x / sum);
    bayes += Math.max(...probs);
    let u = rng.uniform();
    let k = 0;
    while (k < 2 && u >= probs[k]!) u -= probs[k++]!;
    age[i] = BigInt(a);
    income[i] = inc;
    tenure[i] = BigInt(t);
    visits[i] = v;
    city[i] = BigInt(c);
    plan[i] = BigInt(p);
    segment[i] = BigInt(k);
  }
  const table: Table = {
    source,
    count: n,
    columns: [
      { name: 'age', dtype: 'int64', shape: [], data: age, kind: 'numeric' },
      { name: 'income', dtype: 'float32', shape: [], data: income, kind: 'numeric' },
      { name: 'tenure_months', dtype: 'int64', shape: [], data: tenure, kind: 'numeric' },
      { name: 'visits_per_month', dtype: 'float32', shape: [], data: visits, kind: 'numeric' },
      { name: 'city', dtype: 'int64', shape: [], data: city, kind: 'categorical', vocabulary: [...CITIES] },
      { name: 'plan', dtype: 'int64', shape: [], data: plan, kind: 'categorical', vocabulary: [...PLANS] },
      { name: 'segment', dtype: 'int64', shape: [], data: segment, kind: 'categorical', vocabulary: [...SEGMENTS] },
    ],
  };
  return { table, bayes: bayes / n };
}

const SIZES = { friedman1: [20000, 5000], customers: [12000, 3000] } as const satisfies Record<BuiltinData, readonly [number, number]>;

/** Generates a built-in data set's train and test tables (fixed seeds: the same rows everywhere). */
export function loadBuiltin(name: BuiltinData): TableSplits {
  const [nTrain, nTest] = SIZES[name];
  if (name === 'friedman1') return { train: friedman1(nTrain, 101, name), test: friedman1(nTest, 202, `${name} (test)`) };
  return { train: customers(nTrain, 303, name).table, test: customers(nTest, 404, `${name} (test)`).table };
}

/** Facts about a built-in data set, including the best achievable test metric. */
export function builtinInfo(name: BuiltinData): BuiltinInfo {
  const [trainRows, testRows] = SIZES[name];
  if (name === 'friedman1') {
    return { name, task: 'regression', trainRows, testRows, target: 'y', description: 'Friedman #1 regression: 10 uniform features (5 informative), Gaussian noise σ = 1', bestPossible: { metric: 'rmse', value: FRIEDMAN_SIGMA } };
  }
  const bayes = customers(testRows, 404, name).bayes;
  return { name, task: 'classification', trainRows, testRows, target: 'segment', description: 'customer segments: 4 numeric + 2 categorical columns, 3 classes drawn from a planted softmax model', bestPossible: { metric: 'accuracy', value: bayes } };
}
