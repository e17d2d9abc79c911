/**
 * `trainfer recommend <model.onnx> --user U --k 10`: a quick try of a retrieval model — the top-K
 * distinct items of the whole catalog for a user, with scores; items the user already interacted with
 * in `--exclude-seen <data>` (or listed with `--exclude`) are left out; exact (the model's MatMul +
 * TopK) or approximate (`--ann usearch|hnswlib`). An unknown user gets the documented cold-start
 * fallback, the most popular items, and the output says so.
 */
import type { Command } from 'commander';
import { readModel } from '../onnx/model-io.js';
import { TrainferError } from '../util/errors.js';
import { type Interactions, readInteractions } from '../data/interactions.js';
import { generateInteractions, isSyntheticSource, parseSyntheticSpec } from '../data/synthetic-interactions.js';
import { ANN_KINDS, type AnnKind } from '../serve/ann.js';
import { Recommender } from '../serve/retrieval.js';
import { parsePositiveInt, type CliCommand } from './command.js';

interface RecommendFlags {
  user: string[];
  k: number;
  excludeSeen?: string;
  exclude?: string;
  ann?: string;
  threads?: number;
  json?: boolean;
}

/** `trainfer recommend` */
export const recommendCommand: CliCommand = {
  name: 'recommend',
  define(program: Command) {
    program
      .command('recommend')
      .description('top-K items of the whole catalog for a user, from a retrieval model (trainfer train --model mf|two-tower)')
      .argument('<model.onnx>', 'a retrieval model trainfer exported')
      .requiredOption('--user <id>', 'raw user id as in the training data (repeatable); an unknown one gets the most popular items', collectUsers, [])
      .option('--k <n>', 'how many items (default 10)', parsePositiveInt('--k'), 10)
      .option('--exclude-seen <data>', "leave out the user's items in this interactions source (the training --data)")
      .option('--exclude <items>', 'raw item ids to leave out, comma-separated')
      .option('--ann <library>', `approximate search: ${ANN_KINDS.join(' or ')} (default: exact)`)
      .option('--threads <n>', 'onnxruntime threads (default 1)', parsePositiveInt('--threads'))
      .option('--json', 'print one JSON object')
      .action(async (file: string, flags: RecommendFlags) => {
        await runRecommend(file, flags);
      });
  },
};

/** Commander accumulator for the repeatable --user. */
function collectUsers(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function seenItems(source: string, users: readonly number[], userIds: readonly string[] | undefined, itemIds: readonly string[] | undefined): number[][] {
  let d: Interactions;
  if (isSyntheticSource(source)) d = generateInteractions(parseSyntheticSpec(source)).interactions;
  else d = readInteractions(source, { userIds, itemIds, unknown: 'skip' });
  const out = users.map(() => new Set<number>());
  const row = new Map(users.map((u, i) => [u, i]));
  for (let i = 0; i < d.count; i++) {
    const r = row.get(d.user[i]!);
    if (r !== undefined) out[r]!.add(d.item[i]!);
  }
  return out.map((s) => [...s].sort((a, b) => a - b));
}

async function runRecommend(file: string, f: RecommendFlags): Promise<void> {
  if (f.ann !== undefined && !(ANN_KINDS as readonly string[]).includes(f.ann)) throw new TrainferError(`--ann must be ${ANN_KINDS.join(' or ')}, got '${f.ann}'`);
  const model = readModel(file);
  const rec = await Recommender.load(model, { threads: f.threads, ann: f.ann as AnnKind | undefined, name: file });
  try {
    if (f.k > rec.info.topK) throw new TrainferError(`--k ${f.k} is larger than the model's top-K (${rec.info.topK}; retrain or re-export with a larger --top-k)`);
    const users = f.user.map((u) => rec.user(u));
    const itemIndex = new Map((rec.info.itemIds ?? Array.from({ length: rec.info.items }, (_, i) => String(i))).map((s, i) => [s, i]));
    const explicit = (f.exclude ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
      const i = itemIndex.get(s);
      if (i === undefined) throw new TrainferError(`--exclude ${s}: no such item in ${file} (${rec.info.items} items)`);
      return i;
    });
    const seen = f.excludeSeen ? seenItems(f.excludeSeen, users, rec.info.userIds, rec.info.itemIds) : users.map(() => []);
    const exclude = seen.map((s) => [...new Set([...s, ...explicit])]);
    const t0 = performance.now();
    const res = await rec.recommend({ users, k: f.k, exclude, mode: f.ann ? 'ann' : 'exact' });
    const ms = performance.now() - t0;
    if (f.json) {
      process.stdout.write(`${JSON.stringify({ model: file, k: f.k, mode: f.ann ?? 'exact', milliseconds: ms, users: res.map((r, b) => ({ user: f.user[b], coldStart: r.coldStart, excluded: exclude[b]!.length, items: r.items.map((i, j) => ({ item: rec.itemId(i), score: r.scores[j] })) })) })}\n`);
      return;
    }
    res.forEach((r, b) => {
      const why = r.coldStart ? ` — user '${f.user[b]}' is not in the model (${rec.info.users.toLocaleString('en-US')} users): cold-start fallback, the most popular items` : '';
      console.log(`user ${f.user[b]}: top ${r.items.length} of ${rec.info.items.toLocaleString('en-US')} items (${f.ann ? `ANN ${f.ann}` : 'exact'}${exclude[b]!.length ? `, ${exclude[b]!.length} seen/excluded left out` : ''})${why}`);
      r.items.forEach((i, j) => console.log(`  ${String(j + 1).padStart(3)}. ${rec.itemId(i).padEnd(12)} ${r.scores[j]!.toFixed(4)}`));
    });
  } finally {
    await rec.close();
  }
}
