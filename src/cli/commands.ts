// Registry of subcommands beyond `info` (one file each under src/cli/).
import type { Command } from 'commander';

export const COMMANDS: Array<(p: Command) => void> = [];
