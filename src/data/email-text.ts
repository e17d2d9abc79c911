/**
 * Text preparation before tokenizing (`TextPreprocess`): `email` turns a raw RFC 822 / MIME message into
 * a compact, decoded text — `Subject: …`, `From: …`, then the other headers one per line with values
 * cut to 40 characters (less the routing and identity ones: `Received`, `Message-ID`, dates,
 * `References`…, which are long and carry little), then the body decoded (quoted-printable, base64,
 * charsets, encoded words: `postal-mime`), HTML reduced to its text (tags, `<style>`/`<script>` blocks
 * and comments dropped, entities decoded with `entities`), runs of spaces and blank lines collapsed.
 * Measured on the spam corpus (TF-IDF logistic regression, test split): the headers without
 * `Received` alone score 99.27%, Subject + From + body 98.79%; in a raw email the `Received` chain fills
 * a 256-token row before any of the informative headers (mailing-list headers, `X-Mailer`) or the body.
 * A text with no header block (it does not start with `Name: value` lines ended by a blank line) is
 * taken as a body as it is, so a plain sentence passes through unchanged but for spacing.
 *
 * The preparation a model was trained with is recorded in its `trainfer.text` metadata, and `eval`,
 * `trainfer serve` (in the tokenizer worker) and `infer --text` apply the same one to raw text.
 */
import PostalMime from 'postal-mime';
import { decodeHTML } from 'entities';
import { TrainferError } from '../util/errors.js';

/** What is done to a text before it is tokenized: `none` (as it is) or `email` (see the file header). */
export type TextPreprocess = 'none' | 'email';

/** Every `TextPreprocess` value. */
export const TEXT_PREPROCESS: readonly TextPreprocess[] = ['none', 'email'];

/** Checks a text preparation name (`what` names it in the one-line error, default `--text-preprocess`). */
export function parseTextPreprocess(value: unknown, what = '--text-preprocess'): TextPreprocess {
  if ((TEXT_PREPROCESS as readonly unknown[]).includes(value)) return value as TextPreprocess;
  throw new TrainferError(`${what} ${JSON.stringify(value)}: expected one of ${TEXT_PREPROCESS.join(', ')}`);
}

/** Characters of a body kept (the model sees a few hundred tokens; the rest only costs time). */
const MAX_BODY_CHARS = 32_768;

/** Headers left out of the compact header block (long, unique per message, or routing only). */
const SKIPPED_HEADERS = new Set(['received', 'delivered-to', 'message-id', 'date', 'x-original-date', 'delivery-date', 'references', 'in-reply-to', 'subject', 'from', 'return-path', 'x-original-to']);

/** Characters of a header value kept in the compact header block. */
const HEADER_VALUE_CHARS = 40;

/** A header line (`Name: value`), a folded continuation, or an mbox `From ` separator line. */
const HEADER_LINE = /^(?:[!-9;-~]+:|[ \t]|From )/;

/** True when `text` starts with a header block ended by a blank line (or is all headers). */
export function hasHeaderBlock(text: string): boolean {
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split(/\r?\n/);
  // The first line must be a real header (a `Name:` with no space in the name), not a continuation.
  if (!/^(?:[!-9;-~]+:|From )/.test(lines[0] ?? '')) return false;
  return lines.every((l) => HEADER_LINE.test(l));
}

/** Runs of spaces become one space, three or more line breaks two, and the ends are trimmed. */
function tidy(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(/[ \t\f\v\u00a0]+/g, ' ').replace(/ ?\n ?/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
}

/** Removes every `open … close` span (case-insensitive), in linear time. */
function dropSpans(html: string, open: string, close: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let at = 0;
  for (;;) {
    const i = lower.indexOf(open, at);
    if (i < 0) break;
    out += html.slice(at, i);
    const j = lower.indexOf(close, i + open.length);
    if (j < 0) return out;
    at = j + close.length;
  }
  return out + html.slice(at);
}

/**
 * HTML → its text: `<head>`, `<style>`, `<script>` and comments dropped, block tags and `<br>` become
 * line breaks, other tags a space, entities decoded. Every pattern runs in linear time (a tag match
 * stops at the next `<`).
 */
export function htmlText(html: string): string {
  let s = dropSpans(html, '<!--', '-->');
  for (const tag of ['style', 'script', 'head', 'title']) s = dropSpans(s, `<${tag}`, `</${tag}>`);
  s = s.replace(/<(?:br|p|div|tr|li|h[1-6]|table|blockquote)\b[^<>]*>/gi, '\n').replace(/<\/?[a-z!][^<>]*>/gi, ' ');
  return decodeHTML(s);
}

/** The display text of a parsed address (`Name <address>`, or either alone). */
function addressText(a: { name?: string; address?: string } | undefined): string {
  if (!a) return '';
  const name = (a.name ?? '').trim();
  const addr = (a.address ?? '').trim();
  return name && addr ? `${name} <${addr}>` : name || addr;
}

/**
 * A raw email → `Subject: …\nFrom: …\n<name: value lines>\n\n<body text>` (see the file header); a text without a header
 * block → that text, tidied.
 *
 * @example
 * await emailText('Subject: Hi\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9') // 'Subject: Hi\ncontent-transfer-encoding: quoted-printable\n\ncafé'
 */
export async function emailText(raw: string): Promise<string> {
  if (!hasHeaderBlock(raw)) return tidy(raw.length > MAX_BODY_CHARS ? raw.slice(0, MAX_BODY_CHARS) : raw);
  let mail: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    mail = await PostalMime.parse(raw);
  } catch {
    // A message the parser refuses is still text: the model sees it as it is.
    return tidy(raw.slice(0, MAX_BODY_CHARS));
  }
  const text = mail.text?.trim() ? mail.text : mail.html ? htmlText(mail.html) : '';
  const from = mail.from && 'address' in mail.from ? addressText(mail.from) : (mail.from?.name ?? '');
  const head = [mail.subject !== undefined ? `Subject: ${mail.subject}` : '', from ? `From: ${from}` : ''];
  for (const h of mail.headers) if (!SKIPPED_HEADERS.has(h.key)) head.push(`${h.key}: ${h.value.replace(/\s+/g, ' ').trim().slice(0, HEADER_VALUE_CHARS)}`);
  const body = tidy(text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text);
  return tidy(`${head.filter(Boolean).join('\n')}\n\n${body}`);
}

/** Applies `kind` to every text (`none` returns the texts themselves). */
export async function preprocessTexts(texts: readonly string[], kind: TextPreprocess | undefined): Promise<readonly string[]> {
  if (!kind || kind === 'none') return texts;
  const out = new Array<string>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    if (typeof t !== 'string') throw new TrainferError(`text ${i + 1}: tokenizer input must be a string, got ${t === null ? 'null' : typeof t}`);
    out[i] = await emailText(t);
  }
  return out;
}
