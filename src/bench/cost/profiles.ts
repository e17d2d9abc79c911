/**
 * Hardware profiles for the cost model: a JSON file the user edits (name, price per hour, watts, and
 * either "this machine, measured", a declared speed relative to it, or another lab run measured on
 * that machine), plus the grid's carbon intensity and storage/transfer prices. The built-in profiles
 * are EXAMPLES with a date, never live prices; `trainfer cost --write-profiles <file>` writes them out
 * to be edited.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '../../util/errors.js';

/** How fast a profile's hardware runs the measured work. */
export type ProfileSpeed =
  /** This machine: the measured numbers as they are. */
  | { measured: true }
  /** Another lab results directory, measured on that hardware (workloads and variants matched by id). */
  | { measuredRun: string }
  /** Declared: this many times this machine's speed, for training and for inference. */
  | { relative: number }
  | { training: number; inference: number };

/** One piece of hardware one can rent or own. */
export interface HardwareProfile {
  id: string;
  name: string;
  /** Price per hour of the whole machine (owned hardware: amortisation + upkeep). */
  pricePerHour: number;
  /** Average electrical power under load, watts. */
  watts: number;
  /** Data-centre power usage effectiveness (default 1: no overhead counted). */
  pue?: number;
  speed: ProfileSpeed;
  /** True for the built-in example values. */
  example?: boolean;
  note?: string;
}

/** The profiles file. */
export interface ProfilesFile {
  format: 'trainfer-hardware-profiles';
  version: 1;
  /** Date the values were taken from (the examples' date). */
  asOf: string;
  note?: string;
  currency: string;
  /** Grams of CO2-equivalent per kWh of the grid the hardware draws from. */
  gridGramsCo2ePerKwh: number;
  /** Object storage, per GB-month. */
  storagePerGbMonth: number;
  /** Network traffic into the servers (requests), per GB — free at most clouds. */
  ingressPerGb: number;
  /** Network traffic out of the servers (responses), per GB. */
  egressPerGb: number;
  profiles: HardwareProfile[];
}

/**
 * The built-in examples (2026-12-01). Prices are the order of magnitude of public on-demand list prices
 * for such machines, watts a rough share of a server's draw; speeds other than this machine's are
 * declared guesses. Replace them with your own quotes and measurements.
 */
export const EXAMPLE_PROFILES: ProfilesFile = {
  format: 'trainfer-hardware-profiles',
  version: 1,
  asOf: '2026-12-01',
  note: 'EXAMPLE values, not live prices: edit every number to your own quotes, power measurements and grid before drawing conclusions.',
  currency: 'USD',
  gridGramsCo2ePerKwh: 400,
  storagePerGbMonth: 0.023,
  ingressPerGb: 0,
  egressPerGb: 0.09,
  profiles: [
    { id: 'this-machine', name: 'This machine, as a 2-vCPU cloud VM (example price)', pricePerHour: 0.085, watts: 35, pue: 1.2, speed: { measured: true }, example: true },
    { id: 'cpu-16', name: 'Example: 16-vCPU compute-optimised VM (declared 6× training, 7× inference)', pricePerHour: 0.68, watts: 220, pue: 1.2, speed: { training: 6, inference: 7 }, example: true },
    { id: 'gpu-inference', name: 'Example: one inference-class GPU VM (declared 12× training, 8× inference)', pricePerHour: 0.8, watts: 150, pue: 1.2, speed: { training: 12, inference: 8 }, example: true },
    { id: 'laptop', name: 'Example: an owned laptop (amortised price, declared 1.5×)', pricePerHour: 0.02, watts: 30, speed: { relative: 1.5 }, example: true },
  ],
};

/** Reads and checks a profiles file; every problem is one line naming the file and the field. */
export function readProfiles(path: string): ProfilesFile {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FileFormatError(path, `not a JSON profiles file (${(err as Error).message.split('\n')[0]})`);
  }
  return checkProfiles(j, path);
}

/** Validates a parsed profiles object. */
export function checkProfiles(j: unknown, where = 'profiles'): ProfilesFile {
  const bad = (why: string): never => {
    throw new FileFormatError(where, why);
  };
  const f = j as Partial<ProfilesFile>;
  if (!f || typeof f !== 'object') bad('expected a JSON object');
  if (f.format !== 'trainfer-hardware-profiles') bad('"format" must be "trainfer-hardware-profiles"');
  if (f.version !== 1) bad(`"version" ${String(f.version)} is not supported (expected 1)`);
  const num = (v: unknown, name: string, min = 0) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(`${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  num(f.gridGramsCo2ePerKwh, '"gridGramsCo2ePerKwh"');
  num(f.storagePerGbMonth, '"storagePerGbMonth"');
  num(f.ingressPerGb, '"ingressPerGb"');
  num(f.egressPerGb, '"egressPerGb"');
  if (typeof f.currency !== 'string') bad('"currency" must be a string');
  if (typeof f.asOf !== 'string') bad('"asOf" must be a date string');
  if (!Array.isArray(f.profiles) || f.profiles.length === 0) bad('"profiles" must be a non-empty array');
  const ids = new Set<string>();
  f.profiles!.forEach((p, i) => {
    const at = `profiles[${i}]`;
    if (!p || typeof p.id !== 'string' || !p.id) bad(`${at}.id must be a non-empty string`);
    if (ids.has(p.id)) bad(`${at}.id '${p.id}' appears twice`);
    ids.add(p.id);
    if (typeof p.name !== 'string') bad(`${at}.name must be a string`);
    num(p.pricePerHour, `${at}.pricePerHour`);
    num(p.watts, `${at}.watts`);
    if (p.pue !== undefined) num(p.pue, `${at}.pue`, 1);
    const s = p.speed as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object') bad(`${at}.speed must be {"measured": true}, {"measuredRun": "<dir>"}, {"relative": x} or {"training": x, "inference": y}`);
    else if ('relative' in s) num(s.relative, `${at}.speed.relative`, Number.MIN_VALUE);
    else if ('training' in s || 'inference' in s) {
      num(s.training, `${at}.speed.training`, Number.MIN_VALUE);
      num(s.inference, `${at}.speed.inference`, Number.MIN_VALUE);
    } else if ('measuredRun' in s) {
      if (typeof s.measuredRun !== 'string') bad(`${at}.speed.measuredRun must be a results directory`);
    } else if (s.measured !== true) bad(`${at}.speed must be {"measured": true}, {"measuredRun": "<dir>"}, {"relative": x} or {"training": x, "inference": y}`);
  });
  return f as ProfilesFile;
}

/** Speed factors of a declared profile (measured ones are 1: their own numbers are used). */
export function speedFactors(p: HardwareProfile): { training: number; inference: number } {
  const s = p.speed;
  if ('relative' in s) return { training: s.relative, inference: s.relative };
  if ('training' in s) return { training: s.training, inference: s.inference };
  return { training: 1, inference: 1 };
}
