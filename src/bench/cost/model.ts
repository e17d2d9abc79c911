/**
 * The cost and energy model: from measured results and a hardware profile, the cost, energy and CO2e
 * of training; cost per 1 M predictions at the throughput reached *within the latency bound*; storage
 * and transfer; the break-even point where cumulative inference spend passes training spend; and what
 * each optimized variant saves per 1 M predictions against the workload's baseline. Pure arithmetic
 * on the inputs — every formula is in docs/lab.md and checked against hand-computed cases.
 */
import { type HardwareProfile, type ProfilesFile, speedFactors } from './profiles.js';

/** The measured facts of one variant (what the lab records). */
export interface CostVariantInput {
  id: string;
  label: string;
  /** Seconds spent building the variant from the trained model (quantization, QAT, pruning …), on the measuring machine. */
  buildSeconds: number;
  /** Bytes stored and shipped per replica (the artifact: an .onnx, or a packed file). */
  storedBytes: number;
  quality?: number;
  /** Highest Server-scenario rate within the latency bound (queries/s, one sample each); undefined when none met it. */
  serverQps?: number;
  latencyBoundMs?: number;
  /** Bytes of one request (charged at the ingress price) and one response (egress) for a single prediction (binary OIP). */
  requestBytes: number;
  responseBytes: number;
}

/** One workload's measured facts. */
export interface CostWorkloadInput {
  id: string;
  title: string;
  /** Wall-clock seconds of the training run on the measuring machine. */
  trainSeconds: number;
  /** The variant the others are compared with (default the first). */
  baseline?: string;
  variants: CostVariantInput[];
}

/** Options for `computeCosts`. */
export interface CostOptions {
  profiles: ProfilesFile;
  /** Measurements per profile id (profiles with `measuredRun` use theirs; the rest use `measured`). */
  measured: CostWorkloadInput[];
  measuredByProfile?: Readonly<Record<string, CostWorkloadInput[]>>;
  /** Daily prediction volume for fleet size, storage replicas and break-even days (default 1 000 000). */
  predictionsPerDay?: number;
}

/** Costs of training on one profile. */
export interface TrainingCost {
  seconds: number;
  cost: number;
  energyKwh: number;
  co2eKg: number;
}

/** Costs of serving one variant on one profile. */
export interface VariantCost {
  variant: string;
  label: string;
  /** Training + building this variant. */
  training: TrainingCost;
  /** Throughput within the latency bound on this profile; undefined when none met the bound. */
  qps?: number;
  /** Compute cost of 1 M predictions at `qps` (a fully used machine). */
  computePer1M?: number;
  transferPer1M: number;
  /** compute + transfer. */
  costPer1M?: number;
  energyKwhPer1M?: number;
  co2eKgPer1M?: number;
  /** Machines needed for `predictionsPerDay` at `qps` (≥ 1). */
  fleet?: number;
  storagePerMonth: number;
  /** Per day at `predictionsPerDay`: predictions × (compute + transfer) + storage / 30. */
  inferencePerDay?: number;
  /** Predictions after which cumulative inference spend exceeds the training spend. */
  breakEvenPredictions?: number;
  breakEvenDays?: number;
  /** Baseline's costPer1M − this variant's (positive = cheaper). */
  savingsPer1M?: number;
  savingsPercent?: number;
  /** The same on compute alone (transfer is equal for variants with the same inputs and outputs). */
  computeSavingsPer1M?: number;
  computeSavingsPercent?: number;
  energySavedKwhPer1M?: number;
}

/** One profile × one workload. */
export interface WorkloadCost {
  profile: string;
  profileName: string;
  example: boolean;
  workload: string;
  title: string;
  baseline: string;
  training: TrainingCost;
  variants: VariantCost[];
}

/** The model's whole output. */
export interface CostReport {
  currency: string;
  asOf: string;
  note?: string;
  predictionsPerDay: number;
  gridGramsCo2ePerKwh: number;
  rows: WorkloadCost[];
  /** Profiles whose measured run lacks a workload or variant (skipped with the reason). */
  skipped: string[];
}

const HOUR = 3600;

/** Energy (kWh) of `seconds` at `watts` × PUE. */
export function energyKwh(p: Pick<HardwareProfile, 'watts' | 'pue'>, seconds: number): number {
  return (p.watts * (p.pue ?? 1) * seconds) / 3.6e6;
}

/** Training cost on a profile (seconds already scaled to it). */
export function trainingCost(p: HardwareProfile, seconds: number, gridGramsPerKwh: number): TrainingCost {
  const kwh = energyKwh(p, seconds);
  return { seconds, cost: (seconds / HOUR) * p.pricePerHour, energyKwh: kwh, co2eKg: (kwh * gridGramsPerKwh) / 1000 };
}

/**
 * Cost, energy and break-even of every variant of every workload on every profile.
 *
 * @example
 * const report = computeCosts({ profiles: EXAMPLE_PROFILES, measured: lab.costInputs, predictionsPerDay: 5e6 });
 */
export function computeCosts(o: CostOptions): CostReport {
  const perDay = o.predictionsPerDay ?? 1_000_000;
  const pf = o.profiles;
  const rows: WorkloadCost[] = [];
  const skipped: string[] = [];
  for (const p of pf.profiles) {
    const own = 'measuredRun' in p.speed;
    const inputs = own ? o.measuredByProfile?.[p.id] : o.measured;
    if (!inputs) {
      skipped.push(`${p.id}: no measured run loaded for it`);
      continue;
    }
    const f = own ? { training: 1, inference: 1 } : speedFactors(p);
    for (const w of o.measured) {
      const mw = inputs.find((x) => x.id === w.id);
      if (!mw) {
        skipped.push(`${p.id}: its measured run has no workload '${w.id}'`);
        continue;
      }
      const trainSecs = mw.trainSeconds / f.training;
      const training = trainingCost(p, trainSecs, pf.gridGramsCo2ePerKwh);
      const variants = mw.variants.map((v) => variantCost(p, pf, v, trainSecs + v.buildSeconds / f.training, f.inference, perDay));
      const baseline = mw.baseline ?? mw.variants[0]?.id ?? '';
      const base = variants.find((v) => v.variant === baseline);
      for (const v of variants) {
        if (base?.costPer1M !== undefined && v.costPer1M !== undefined) {
          v.savingsPer1M = base.costPer1M - v.costPer1M;
          v.savingsPercent = base.costPer1M > 0 ? (v.savingsPer1M / base.costPer1M) * 100 : 0;
          v.computeSavingsPer1M = base.computePer1M! - v.computePer1M!;
          v.computeSavingsPercent = base.computePer1M! > 0 ? (v.computeSavingsPer1M / base.computePer1M!) * 100 : 0;
          v.energySavedKwhPer1M = base.energyKwhPer1M! - v.energyKwhPer1M!;
        }
      }
      rows.push({ profile: p.id, profileName: p.name, example: !!p.example, workload: w.id, title: w.title, baseline, training, variants });
    }
  }
  return { currency: pf.currency, asOf: pf.asOf, note: pf.note, predictionsPerDay: perDay, gridGramsCo2ePerKwh: pf.gridGramsCo2ePerKwh, rows, skipped };
}

function variantCost(p: HardwareProfile, pf: ProfilesFile, v: CostVariantInput, trainSeconds: number, inferenceFactor: number, perDay: number): VariantCost {
  const training = trainingCost(p, trainSeconds, pf.gridGramsCo2ePerKwh);
  const transferPer1M = ((v.requestBytes * pf.ingressPerGb + v.responseBytes * pf.egressPerGb) * 1e6) / 1e9;
  const out: VariantCost = { variant: v.id, label: v.label, training, transferPer1M, storagePerMonth: (v.storedBytes / 1e9) * pf.storagePerGbMonth };
  if (v.serverQps === undefined || !(v.serverQps > 0)) return out;
  const qps = v.serverQps * inferenceFactor;
  const secondsPer1M = 1e6 / qps;
  out.qps = qps;
  out.computePer1M = (secondsPer1M / HOUR) * p.pricePerHour;
  out.costPer1M = out.computePer1M + transferPer1M;
  out.energyKwhPer1M = energyKwh(p, secondsPer1M);
  out.co2eKgPer1M = (out.energyKwhPer1M * pf.gridGramsCo2ePerKwh) / 1000;
  out.fleet = Math.max(1, Math.ceil(perDay / 86400 / qps));
  out.storagePerMonth = (v.storedBytes / 1e9) * out.fleet * pf.storagePerGbMonth;
  out.inferencePerDay = (perDay / 1e6) * out.costPer1M + out.storagePerMonth / 30;
  const perPrediction = out.costPer1M / 1e6;
  out.breakEvenPredictions = perPrediction > 0 ? training.cost / perPrediction : undefined;
  out.breakEvenDays = out.inferencePerDay > 0 ? training.cost / out.inferencePerDay : undefined;
  return out;
}
