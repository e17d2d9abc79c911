/**
 * Writes a lab run's report: the self-contained HTML (charts bundled in) and the Markdown summary,
 * both atomically.
 */
import { writeFileAtomic } from '../../util/atomic-write.js';
import type { CostReport } from '../cost/model.js';
import type { LabRun } from '../lab/lab-run.js';
import { buildCharts } from './charts.js';
import { renderHtml } from './html.js';
import { markdownSummary } from './markdown.js';

/** Options for `writeReport`. */
export interface WriteReportOptions {
  run: LabRun;
  cost: CostReport;
  /** The run's directory (for relative links). */
  dir: string;
  html: string;
  /** Also write the Markdown summary here. */
  markdown?: string;
  /** How the summary names the HTML report (default `html`; the lab passes the run's final path). */
  reportLink?: string;
}

/** Writes the HTML report (and the Markdown summary); returns the Markdown text. */
export async function writeReport(o: WriteReportOptions): Promise<string> {
  const charts = buildCharts(o.run, o.cost);
  writeFileAtomic(o.html, renderHtml(o.run, o.cost, charts));
  const md = markdownSummary(o.run, o.cost, o.reportLink ?? o.html);
  if (o.markdown) writeFileAtomic(o.markdown, md);
  return md;
}
