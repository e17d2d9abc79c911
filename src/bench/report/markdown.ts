/**
 * The Markdown summary of a lab run (for terminals, CI logs and the README): one row per variant with
 * quality, size, the four scenarios' headline numbers and the cost per 1 M predictions on the first
 * hardware profile, then training and the cost model's break-even per workload.
 */
import type { CostReport } from '../cost/model.js';
import type { LabRun } from '../lab/lab-run.js';

const n = (x: number | undefined) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));
const ms = (x: number | undefined) => (x === undefined ? '—' : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const money = (x: number | undefined) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
const size = (b: number) => (b >= 1 << 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);
const big = (x: number | undefined) => (x === undefined ? '—' : x >= 1e9 ? `${(x / 1e9).toFixed(1)} G` : x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0));

/** Seconds as the largest sensible unit. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** The per-variant summary table (Markdown). */
export function summaryTable(run: LabRun, cost: CostReport): string {
  const profile = cost.rows[0];
  // One quality metric for every workload names the column; mixed metrics (accuracy, recall@10, …) name each cell.
  const names = new Set(run.workloads.map((w) => w.quality.name));
  const shared = names.size === 1 ? run.workloads[0]!.quality.name : undefined;
  const lines = [
    `| workload | variant | ${shared ?? 'quality'} | size | single-stream p50 / p99 (ms) | multi-stream p99 (ms) | offline (samples/s) | server QPS within p99 ≤ bound | compute ${cost.currency} / 1M predictions${profile ? ` (${profile.profile})` : ''} | + transfer | compute saved vs ${run.workloads[0]?.variants[0]?.label ?? 'baseline'} |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of run.workloads) {
    const c = cost.rows.find((r) => r.workload === w.id && r.profile === profile?.profile);
    for (const v of w.variants) {
      const vc = c?.variants.find((x) => x.variant === v.id);
      const q = `${w.quality.percent ? `${(v.quality * 100).toFixed(2)}%` : v.quality.toFixed(4)}${shared ? '' : ` ${w.quality.name}`}`;
      const b = v.bench;
      lines.push(`| ${w.title} | ${v.label} | ${q} | ${size(v.storedBytes)} | ${ms(b.singleStream.latencyMs.p50)} / ${ms(b.singleStream.latencyMs.p99)} | ${ms(b.multiStream.latencyMs.p99)} | ${n(b.offline.samplesPerSecond)} | ${n(b.server.bestQps)} (≤ ${b.server.latencyBoundMs} ms) | ${money(vc?.computePer1M)} | ${money(vc?.transferPer1M)} | ${v.id === w.variants[0]?.id || vc?.computeSavingsPercent === undefined ? '—' : `${Math.round(vc.computeSavingsPercent) || 0}%`} |`);
    }
  }
  return lines.join('\n');
}

/** Training and break-even per workload (Markdown). */
export function trainingTable(run: LabRun, cost: CostReport): string {
  const profile = cost.rows[0]?.profile;
  const lines = [
    `| workload | trained | samples/s | GFLOP/s (of ${run.peak.gflops.toFixed(0)} peak) | time to target | peak RSS | training cost (${profile ?? '—'}) | energy / CO2e | fp32 break-even |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of run.workloads) {
    const t = w.training;
    const c = cost.rows.find((r) => r.workload === w.id && r.profile === profile);
    const fp = c?.variants[0];
    const ttt = t.timeToTarget.seconds === undefined ? `not reached (${(t.timeToTarget.target * 100).toFixed(1)}%)` : `${t.timeToTarget.seconds.toFixed(1)} s to ${(t.timeToTarget.target * 100).toFixed(1)}%`;
    lines.push(`| ${w.title} | ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}, ${t.trainSeconds.toFixed(1)} s${w.reused ? ' (reused)' : ''} | ${n(t.samplesPerSecond)} | ${t.achievedGflops.toFixed(1)} (${((t.fractionOfPeak ?? 0) * 100).toFixed(0)}%) | ${ttt} | ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MiB | ${money(c?.training.cost)} ${cost.currency} | ${c ? `${(c.training.energyKwh * 1000).toFixed(2)} Wh / ${(c.training.co2eKg * 1000).toFixed(2)} g` : '—'} | ${fp?.breakEvenPredictions === undefined ? '—' : `${big(fp.breakEvenPredictions)} predictions (${duration(fp.breakEvenDays! * 86400)} at ${big(cost.predictionsPerDay)}/day)`} |`);
  }
  return lines.join('\n');
}

/** The whole summary.md. */
export function markdownSummary(run: LabRun, cost: CostReport, reportPath?: string): string {
  const m = run.machine;
  return [
    `# Trainfer lab${run.quick ? ' (--quick)' : ''} — ${run.createdAt.slice(0, 10)}`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, onnxruntime ${m.onnxruntime}, Trainfer ${m.trainfer}; load average at the end ${m.loadAverage.join(' ')}. The lab ran ${run.seconds.toFixed(0)} s.`,
    '',
    '## Inference, per variant',
    '',
    summaryTable(run, cost),
    '',
    '## Training, and when inference overtakes it',
    '',
    trainingTable(run, cost),
    '',
    ...run.workloads.flatMap((w) => (w.failures ?? []).map((f) => `**${w.title} / ${f.variant} failed:** ${f.reason}\n`)),
    `Costs: ${cost.note ?? ''} Profiles as of ${cost.asOf}; ${big(cost.predictionsPerDay)} predictions per day; grid ${cost.gridGramsCo2ePerKwh} g CO2e/kWh.${cost.skipped.length ? ` Skipped: ${cost.skipped.join('; ')}.` : ''}`,
    reportPath ? `\nFull report with charts: ${reportPath}` : '',
    '',
  ].join('\n');
}
