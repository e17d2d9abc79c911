#!/usr/bin/env node
/**
 * The `trainfer` command. Subcommands live one per file and are listed in `COMMANDS`.
 * Errors print as one line (`trainfer: <reason>`) with exit code 1; `--debug` adds the stack.
 */
import { realpathSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { TrainferError, oneLine } from '../util/errors.js';
import type { CliCommand } from './command.js';
import { demoCommand } from './demo.js';
import { inspectCommand } from './inspect.js';
import { serveCommand } from './serve.js';
import { inferCommand } from './infer.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { quantizeCommand } from './quantize.js';
import { deployCommand } from './deploy.js';
import { recommendCommand } from './recommend.js';

const COMMANDS: readonly CliCommand[] = [demoCommand, inspectCommand, serveCommand, inferCommand, quantizeCommand, trainCommand, evalCommand, recommendCommand, deployCommand];

/** Builds the root program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('trainfer')
    .description('Train, compress, serve and measure neural networks on ONNX Runtime')
    .version(VERSION)
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError(false)
    .exitOverride();
  for (const c of COMMANDS) c.define(program);
  return program;
}

const VERSION = '0.1.0';

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit cleanly; usage errors were already printed by commander.
      return err.exitCode;
    }
    process.stderr.write(`trainfer: ${oneLine(err)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return err instanceof TrainferError ? err.exitCode : 1;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${realpath(process.argv[1])}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

function realpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
