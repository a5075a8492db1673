// `robotseg` command line. Each subcommand lives in its own file and registers on the program.
// Errors a user can fix (bad input, missing files, no adapter) exit with code 2 and one clear line.
import { Command } from 'commander';
import { registerInfo } from './info.js';
import { UserError } from './errors.js';
import { printVersion, registerVersion } from './version.js';

const program = new Command();
program.name('robotseg').description('RobotSeg / SAM 2.1 robot segmentation on WebGPU').showHelpAfterError();
registerVersion(program);
registerInfo(program);
for (const mod of await loadOptionalCommands()) mod(program);

try {
  if (!(await printVersion(process.argv.slice(2)))) await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  if (err instanceof UserError || (err as { exitCode?: number }).exitCode === 2) {
    process.stderr.write(`robotseg: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`robotseg: ${err.stack ?? err.message}\n`);
  process.exit(1);
}

/** Subcommands added by later work register here (bench, convert, segment, track, …). */
async function loadOptionalCommands(): Promise<Array<(p: Command) => void>> {
  const { COMMANDS } = await import('./commands.js');
  return COMMANDS;
}
