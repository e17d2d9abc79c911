/**
 * The shape of a CLI subcommand: each `src/cli/<name>.ts` exports one `CliCommand`, and `main.ts`
 * lists them in one static array (no registration by side effect).
 */
import type { Command } from 'commander';
import type { Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';

/** A subcommand: `define` adds it (name, options, action) to the root program. */
export interface CliCommand {
  name: string;
  define(program: Command): void;
}

/** Parses a positive integer flag value or throws a one-line error naming the flag. */
export function parsePositiveInt(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** Parses a fraction flag value in [0, 1) or throws a one-line error naming the flag. */
export function parseFraction(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n < 1)) throw new Error(`${flag} must be a number in [0, 1), got '${v}'`);
    return n;
  };
}

/** Parses `--device`: `cpu` or `cuda`. */
export function parseDevice(v: string): Device {
  if (v !== 'cpu' && v !== 'cuda') throw new Error(`--device must be cpu or cuda, got '${v}'`);
  return v;
}

/** Parses a finite number flag value or throws a one-line error naming the flag. */
export function parseNumber(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${flag} must be a number, got '${v}'`);
    return n;
  };
}

/** Parses a finite number > 0 or throws a one-line error naming the flag. */
export function parsePositiveNumber(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new TrainferError(`${flag} must be a positive number, got '${v}'`);
    return n;
  };
}

/** Commander accumulator for a repeatable flag (`--dim a=1 --dim b=2`). */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Parses repeated `--dim name=N` values into sizes by dim name; a one-line error names a bad one. */
export function parseDims(specs: readonly string[] | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const s of specs ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m || Number(m[2]) <= 0) throw new TrainferError(`--dim expects name=N with a positive N, got '${s}'`);
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}
