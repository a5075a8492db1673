// `robotseg` command line. Each subcommand lives in its own file and registers on the program.
// Exit codes: 0 success; 2 anything the user can fix (bad input or options, missing or unwritable
// files, full disk, no adapter), printed as ONE line `robotseg: …`, last on stderr; 1 an internal
// error (a bug), also one line. ROBOTSEG_DEBUG=1 adds the stack trace.
// Usage errors found by commander (unknown or missing option, missing argument) are user errors too:
// one line with a hint where to find the usage, not the whole help.
import { CommanderError, type Command as CommandT } from 'commander';
import { Command } from 'commander';
import { abortAllAtomic } from '../node/atomic_write.js';
import { fsErrorMessage } from '../node/paths.js';
import { registerInfo } from './info.js';
import { oneLine, UserError } from './errors.js';
import { packageVersion, printVerboseVersion } from './version.js';

const DEBUG = process.env.ROBOTSEG_DEBUG === '1';

/** Print the error as one line and exit: 2 for user errors, 1 for bugs. */
function fail(e: unknown): never {
  const err = e as Error & { exitCode?: number };
  const fsMsg = fsErrorMessage(err);
  const user = err instanceof UserError || err?.exitCode === 2 || fsMsg !== null;
  const msg = fsMsg ?? (err?.message || String(e));
  if (DEBUG && err?.stack) process.stderr.write(`${err.stack}\n`);
  abortAllAtomic();
  process.stderr.write(
    user
      ? `robotseg: ${oneLine(msg)}\n`
      : `robotseg: internal error: ${oneLine(msg)}${DEBUG ? '' : ' (ROBOTSEG_DEBUG=1 prints the stack trace)'}\n`,
  );
  process.exit(user ? 2 : 1);
}

process.on('uncaughtException', fail);
// Ctrl-C / kill: no half-written output stays behind (temporary files of atomic outputs are removed)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    abortAllAtomic();
    process.stderr.write(`\nrobotseg: interrupted (${sig}); no partial output file was kept\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
process.on('unhandledRejection', fail);
// `robotseg info | head -1`: a closed stdout is not an error of ours
process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(0) : fail(e)));

const program = new Command();
let usageError = '';
program
  .name('robotseg')
  .description('RobotSeg / SAM 2.1 robot segmentation on WebGPU')
  .version(packageVersion(), '-V, --version', 'print the version (with --verbose: also the WebGPU adapter)')
  .exitOverride()
  .showHelpAfterError(false)
  .configureOutput({ outputError: (s) => (usageError = s), writeErr: () => undefined });
registerInfo(program);
for (const mod of await loadOptionalCommands()) mod(program);

try {
  if (!(await printVerboseVersion(process.argv.slice(2)))) await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) usage(e);
  fail(e);
}

/** Commander's exits: help and version are successes; everything else is a usage error (exit 2). */
function usage(e: CommanderError): never {
  if (e.exitCode === 0) process.exit(0);
  const sub = commandOf(process.argv.slice(2));
  if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync')
    failUsage(`give a command (${program.commands.map((c) => c.name()).join(', ')}); robotseg --help describes them`);
  const msg = (usageError || e.message).trim().replace(/^error:\s*/i, '');
  failUsage(`${msg} (see robotseg${sub ? ` ${sub.name()}` : ''} --help)`);
}

function failUsage(msg: string): never {
  process.stderr.write(`robotseg: ${oneLine(msg)}\n`);
  process.exit(2);
}

function commandOf(args: string[]): CommandT | undefined {
  const first = args.find((a) => !a.startsWith('-'));
  return program.commands.find((c) => c.name() === first || c.aliases().includes(first ?? ''));
}

/** Subcommands added by later work register here (bench, convert, segment, track, …). */
async function loadOptionalCommands(): Promise<Array<(p: Command) => void>> {
  const { COMMANDS } = await import('./commands.js');
  return COMMANDS;
}
