/**
 * The report: the Pareto frontier, the Markdown summary, a self-contained HTML file (no URL it would
 * fetch), and — in headless Chromium — every chart drawn as SVG with no console errors and no request
 * leaving the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserSkipReason, launchChromium } from '../../testing/chromium.js';
import { computeCosts } from '../cost/model.js';
import { EXAMPLE_PROFILES } from '../cost/profiles.js';
import { costInputs } from '../lab/lab-run.js';
import { buildCharts, paretoFrontier } from './charts.js';
import { summaryTable } from './markdown.js';
import { sampleLabRun } from './test-lab-run.js';
import { writeReport } from './write-report.js';

const run = sampleLabRun();
const cost = computeCosts({ profiles: EXAMPLE_PROFILES, measured: costInputs(run) });

test('Pareto frontier: only points no other beats on both axes (lower x, higher y)', () => {
  const pts = [{ x: 1, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 2 }, { x: 4, y: 4 }, { x: 0.5, y: 0.5 }, { x: 2, y: 2.5 }];
  assert.deepEqual(paretoFrontier(pts, (p) => p.x, (p) => p.y), [{ x: 0.5, y: 0.5 }, { x: 1, y: 1 }, { x: 2, y: 3 }, { x: 4, y: 4 }]);
});

test('report: every chart of the issue, a Markdown summary, one self-contained HTML file', async () => {
  const ids = buildCharts(run, cost).map((c) => c.id);
  for (const id of ['training-loss', 'training-accuracy', 'throughput', 'latency', 'pareto-latency', 'pareto-size', 'latency-vs-qps', 'break-even', 'cost-per-million']) assert.ok(ids.includes(id), id);
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-report-'));
  const html = join(dir, 'report.html');
  const md = await writeReport({ run, cost, dir, html, markdown: join(dir, 'summary.md') });
  assert.match(md, /\| MNIST cnn \| int8 static \| 97\.90% \|/);
  assert.match(md, /EXAMPLE values, not live prices/);
  const text = readFileSync(html, 'utf8');
  // Nothing to fetch: outside the inlined scripts, no element with a src or href.
  const markup = text.replace(/<script>[\s\S]*?<\/script>/g, '');
  assert.equal(/<[a-z]+[^>]+(src|href)=/i.test(markup), false);
  assert.ok(text.includes('vegaEmbed'));
  assert.equal((text.match(/<\/script>/g) ?? []).length, (text.match(/<script>/g) ?? []).length);
});

test('report renders in headless Chromium: every chart drawn, no console errors, no requests', { skip: browserSkipReason() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-report-'));
  const html = join(dir, 'report.html');
  await writeReport({ run, cost, dir, html });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`request to ${r.url()}`); });
    await page.goto(`file://${html}`);
    await page.waitForSelector('body[data-charts-done="true"]', { timeout: 20_000 });
    const charts = await page.$$eval('.vis', (els) => els.map((e) => ({ id: e.id, rendered: e.getAttribute("data-rendered") ?? undefined, error: e.getAttribute("data-error") ?? undefined, marks: e.querySelectorAll('svg .mark-line path, svg .mark-rect path, svg .mark-symbol path, svg .mark-rule line').length, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height })));
    assert.equal(charts.length, buildCharts(run, cost).length);
    for (const c of charts) {
      assert.equal(c.error, undefined, `${c.id}: ${c.error}`);
      assert.equal(c.rendered, 'true', c.id);
      assert.ok(c.marks > 0, `${c.id} drew no marks`);
      assert.ok(c.w > 200 && c.h > 100, `${c.id} is ${c.w}×${c.h}`);
    }
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test('mixed quality metrics (accuracy and recall@10): the summary names each cell, the charts call the axis quality', () => {
  const mixed = sampleLabRun();
  mixed.workloads[1] = { ...mixed.workloads[1]!, quality: { name: 'recall@10', percent: true, higherIsBetter: true } };
  const table = summaryTable(mixed, computeCosts({ profiles: EXAMPLE_PROFILES, measured: costInputs(mixed) }));
  const header = table.split('\n')[0]!;
  assert.match(header, /\| workload \| variant \| quality \|/);
  const rows = table.split('\n').slice(2);
  assert.ok(rows.some((r) => /% top-1 test accuracy \|/.test(r)) && rows.some((r) => /% recall@10 \|/.test(r)), table);
  const pareto = buildCharts(mixed, cost).find((c) => c.id === 'pareto-latency')!;
  assert.match(pareto.title, /^quality \(each workload's metric\)/);
  // One metric everywhere: the column is named after it and cells carry only the number.
  const same = summaryTable(run, cost);
  assert.match(same.split('\n')[0]!, /\| top-1 test accuracy \|/);
});
