/**
 * What every result file records about where it was measured: the machine (CPU model, cores, memory,
 * the CPU features int8 speed depends on, load at the start), the software (Node, onnxruntime,
 * Trainfer), and the SHA-256 of the model file measured.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

/** The machine and software a measurement ran on. */
export interface MachineInfo {
  cpuModel: string;
  /** Cores Node may use (`availableParallelism`). */
  cores: number;
  logicalCpus: number;
  memoryBytes: number;
  platform: string;
  arch: string;
  kernel: string;
  node: string;
  onnxruntime: string;
  trainfer: string;
  /** x86 features that decide int8/fp16 kernel speed (empty elsewhere). */
  cpuFlags: string[];
  /** 1/5/15-minute load averages when the measurement started: a busy machine's numbers are noisy. */
  loadAverage: number[];
}

const FLAGS = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_int8', 'amx_bf16'];

/** Describes this machine now. */
export function machineInfo(): MachineInfo {
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    const have = new Set(line.trim().split(/\s+/));
    flags = FLAGS.filter((f) => have.has(f));
  } catch {
    // not Linux: no flags
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    logicalCpus: cpus().length,
    memoryBytes: totalmem(),
    platform: platform(),
    arch: arch(),
    kernel: release(),
    node: process.version,
    onnxruntime: ort.env.versions.common ?? 'unknown',
    trainfer: trainferVersion(),
    cpuFlags: flags,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

/** Hex SHA-256 of a file or bytes. */
export function sha256(source: string | Uint8Array): string {
  return createHash('sha256').update(typeof source === 'string' ? readFileSync(source) : source).digest('hex');
}

let version: string | undefined;
/** This package's version (from its package.json, found above this file in src/ or dist/). */
export function trainferVersion(): string {
  if (version) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (j.name === 'trainfer') return (version = j.version ?? 'unknown');
    }
    dir = dirname(dir);
  }
  return (version = 'unknown');
}
