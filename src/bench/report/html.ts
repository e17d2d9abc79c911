/**
 * The report as one self-contained HTML file: vega, vega-lite and vega-embed inlined, every chart's
 * spec and data inlined as JSON, tables for the summary, training, cost and machine — it opens from
 * disk with no network. Each chart container gets `data-rendered="true"` once drawn (or
 * `data-error` with the message), which the headless-browser test checks.
 */
import type { CostReport } from '../cost/model.js';
import type { LabRun } from '../lab/lab-run.js';
import type { Chart } from './charts.js';
import { summaryTable, trainingTable } from './markdown.js';
import { vegaAssets } from './vega-assets.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Safe inside a <script> element: no `</script`, no `<!--`. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

/** A Markdown table (as `summaryTable` writes it) as an HTML table. */
export function markdownTableToHtml(md: string): string {
  const rows = md.trim().split('\n').filter((l, i) => i !== 1);
  const cells = (l: string) => l.replace(/^\||\|$/g, '').split('|').map((c) => esc(c.trim()));
  const [head, ...body] = rows;
  return `<table><thead><tr>${cells(head!).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function costTable(cost: CostReport): string {
  const rows = cost.rows.flatMap((r) =>
    r.variants.map((v) => `<tr><td>${esc(r.profileName)}${r.example ? ' <span class="ex">example</span>' : ''}</td><td>${esc(r.title)}</td><td>${esc(v.label)}</td><td>${v.qps === undefined ? '—' : Math.round(v.qps).toLocaleString('en-US')}</td><td>${fmt(v.costPer1M)}</td><td>${fmt(v.energyKwhPer1M === undefined ? undefined : v.energyKwhPer1M * 1000)}</td><td>${fmt(v.co2eKgPer1M === undefined ? undefined : v.co2eKgPer1M * 1000)}</td><td>${fmt(v.training.cost)}</td><td>${v.breakEvenPredictions === undefined ? '—' : Math.round(v.breakEvenPredictions).toLocaleString('en-US')}</td><td>${v.savingsPer1M === undefined || v.variant === r.baseline ? '—' : `${fmt(v.savingsPer1M)} (${v.savingsPercent!.toFixed(0)}%)`}</td></tr>`),
  );
  return `<table><thead><tr><th>profile</th><th>workload</th><th>variant</th><th>QPS within bound</th><th>${esc(cost.currency)} / 1M predictions</th><th>Wh / 1M</th><th>g CO2e / 1M</th><th>training + build ${esc(cost.currency)}</th><th>break-even (predictions)</th><th>saves / 1M vs baseline</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const fmt = (x: number | undefined) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** The report's HTML. */
export function renderHtml(run: LabRun, cost: CostReport, charts: readonly Chart[]): string {
  const assets = vegaAssets();
  const m = run.machine;
  const chartHtml = charts.map((c) => `<section class="chart"><h3>${esc(c.title)}</h3><p class="caption">${esc(c.caption)}</p><div class="vis" id="${c.id}"></div></section>`).join('\n');
  const specs = scriptSafe(JSON.stringify(Object.fromEntries(charts.map((c) => [c.id, c.spec]))));
  const scripts = assets.scripts.map((s) => `<script>/* ${s.name} ${s.version} (BSD-3-Clause) */\n${scriptSafe(s.code)}\n</script>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trainfer lab report — ${esc(run.createdAt.slice(0, 10))}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: #1d2733; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #dde3ea; padding-bottom: .2rem; } h3 { margin: 1.4rem 0 .2rem; font-size: 1.05rem; }
.meta, .caption { color: #55606d; } .caption { margin: 0 0 .4rem; max-width: 820px; }
table { border-collapse: collapse; font-size: 12.5px; margin: .5rem 0 1rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #dde3ea; padding: 3px 6px; text-align: right; white-space: nowrap; } th { background: #f3f6f9; white-space: normal; vertical-align: bottom; min-width: 60px; max-width: 130px; }
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) { text-align: left; }
.ex { background: #fff3cd; color: #7a5b00; border-radius: 3px; padding: 0 4px; font-size: 11px; }
.note { background: #fff8e1; border-left: 3px solid #f0b400; padding: .5rem .8rem; }
.vis { min-height: 60px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 0 1.5rem; }
.chart { overflow-x: auto; }
</style>
</head>
<body>
<h1>Training versus inference, in numbers</h1>
<p class="meta">Trainfer ${esc(m.trainfer)} lab${run.quick ? ' (--quick: short training, fewer variants, short scenarios)' : ''}, ${esc(run.createdAt)} · ${esc(m.cpuModel)}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${esc(m.platform)}/${esc(m.arch)} · Node ${esc(m.node)}, onnxruntime ${esc(m.onnxruntime)} · fp32 MatMul peak ${run.peak.gflops.toFixed(0)} GFLOP/s · load average ${m.loadAverage.join(' ')} · ${run.seconds.toFixed(0)} s</p>
<h2>Summary</h2>
${markdownTableToHtml(summaryTable(run, cost))}
<h2>Training</h2>
${markdownTableToHtml(trainingTable(run, cost))}
<h2>Charts</h2>
<div class="charts">
${chartHtml}
</div>
<h2>Cost model</h2>
<p class="note">${esc(cost.note ?? '')} Profiles as of ${esc(cost.asOf)}; ${cost.predictionsPerDay.toLocaleString('en-US')} predictions per day; grid ${cost.gridGramsCo2ePerKwh} g CO2e/kWh. Edit <code>hardware-profiles.json</code> in the results directory and run <code>trainfer cost &lt;results&gt; --profiles &lt;file&gt;</code>, then <code>trainfer report</code>, to recompute.</p>
${costTable(cost)}
<p class="caption">Assumptions: a machine serving at the Server result's rate is fully used (idle capacity is extra cost); the fleet for the daily volume is rounded up to whole machines for storage replicas; transfer is one binary-tensor request and response per prediction; declared speeds scale measured time linearly. Details: docs/lab.md.</p>
<h2>Settings</h2>
<p class="meta">Scenario minimum durations (ms): single-stream ${run.settings.durationsMs.singleStream}, multi-stream ${run.settings.durationsMs.multiStream}, offline ${run.settings.durationsMs.offline}, each server trial ${run.settings.durationsMs.serverTrial}; seed ${run.settings.seed}. In-process target: one single-thread onnxruntime session per core in worker threads. Result files with every setting and the model's SHA-256 are in <code>bench/</code>.</p>
${scripts}
<script>
window.__reportErrors = [];
const SPECS = ${specs};
Promise.all(Object.entries(SPECS).map(([id, spec]) => {
  const el = document.getElementById(id);
  return vegaEmbed(el, spec, { actions: false, renderer: 'svg' })
    .then(() => { el.dataset.rendered = 'true'; })
    .catch((err) => { el.dataset.error = String(err && err.message || err); window.__reportErrors.push(id + ': ' + el.dataset.error); });
})).then(() => { document.body.dataset.chartsDone = 'true'; });
</script>
</body>
</html>
`;
}
