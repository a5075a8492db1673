// The kernels an autograd tape launches itself (src/graph/autograd.ts TapeOps): gradient
// accumulation is the elementwise add, view nodes come from the layout family. Every tape is
// made with them once: `new Tape(rt, TAPE_OPS)`.
import type { TapeOps } from '../graph/autograd.js';
import { add } from './elementwise.js';
import { viewNode } from './layout.js';

export const TAPE_OPS: TapeOps = { accumulate: add, viewNode };
