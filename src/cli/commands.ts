// Registry of subcommands beyond `info` (one file each under src/cli/).
import type { Command } from 'commander';
import { registerConvert } from './convert.js';
import { registerBench } from './bench.js';
import { registerEval } from './eval.js';
import { registerEdges } from './edges.js';
import { registerSegment } from './segment.js';
import { registerTrack } from './track.js';
import { registerInitRobotseg } from './init_robotseg.js';
import { registerTrain } from './train.js';
import { registerServe } from './serve.js';
import { registerDataset } from './dataset.js';

export const COMMANDS: Array<(p: Command) => void> = [];
COMMANDS.push(registerConvert);
COMMANDS.push(registerEval);
COMMANDS.push(registerBench);
COMMANDS.push(registerEdges);
COMMANDS.push(registerSegment);
COMMANDS.push(registerTrack);
COMMANDS.push(registerInitRobotseg);
COMMANDS.push(registerTrain);
COMMANDS.push(registerServe);
COMMANDS.push(registerDataset);
