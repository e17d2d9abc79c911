/**
 * The quantization report: per node, whether it was quantized (and how) or kept float (and why), plus
 * notes on what preparation changed. Rendered by the CLI and kept in `--json` output.
 */

/** What happened to one node. */
export interface NodeOutcome {
  /** Graph path: `main`, or e.g. `main/If 'cond'/then_branch`. */
  graph: string;
  node: string;
  opType: string;
  status: 'quantized' | 'float' | 'folded';
  /** How it was quantized, or why it stayed float. */
  detail: string;
}

/** Everything a quantization pass did. */
export interface QuantizeReport {
  mode: string;
  outcomes: NodeOutcome[];
  /** Preparation and format notes (opset upgrade, folded constants, chosen formats). */
  notes: string[];
}

/** A fresh report for `mode`. */
export function newReport(mode: string): QuantizeReport {
  return { mode, outcomes: [], notes: [] };
}

/** Count of quantized nodes. */
export function quantizedCount(r: QuantizeReport): number {
  return r.outcomes.filter((o) => o.status === 'quantized').length;
}

/**
 * Human-readable summary lines: quantized ops by type, then float ops by type and reason
 * (e.g. `kept float: 2× Sigmoid (not covered by static quantization)`).
 */
export function summarizeReport(r: QuantizeReport): string[] {
  const lines: string[] = [];
  const group = (status: NodeOutcome['status']): Map<string, number> => {
    const m = new Map<string, number>();
    for (const o of r.outcomes) {
      if (o.status !== status) continue;
      const key = status === 'quantized' ? `${o.opType} (${o.detail})` : `${o.opType} — ${o.detail}${o.graph === 'main' ? '' : ` [${o.graph}]`}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    return m;
  };
  const fmt = (m: Map<string, number>): string[] => [...m].map(([k, n]) => `  ${n}× ${k}`);
  const q = group('quantized');
  const f = group('folded');
  const fl = group('float');
  if (q.size) lines.push('quantized:', ...fmt(q));
  if (f.size) lines.push('folded into the previous op:', ...fmt(f));
  if (fl.size) lines.push('kept float:', ...fmt(fl));
  if (r.notes.length) lines.push('notes:', ...r.notes.map((n) => `  ${n}`));
  return lines;
}
