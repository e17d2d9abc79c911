/**
 * Typed errors shared by every layer. A `TrainferError` carries a one-line message a user can act on;
 * the CLI prints only that line (and the stack with `--debug`).
 */

/** Base class for errors the user can fix: bad files, bad flags, bad data. */
export class TrainferError extends Error {
  /** Optional exit code the CLI should use (default 1). */
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A file that cannot be read or parsed as what it should be. Message: `<file>: <reason>`. */
export class FileFormatError extends TrainferError {
  readonly file: string;
  constructor(file: string, reason: string, options: { cause?: unknown } = {}) {
    super(`${file}: ${reason}`, options);
    this.file = file;
  }
}

/** A graph that is structurally wrong. The message names the node, the input and the reason. */
export class GraphValidationError extends TrainferError {}

/** Renders any thrown value as one line (no stack): its first non-blank line. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').find((l) => l.trim()) ?? '';
}
