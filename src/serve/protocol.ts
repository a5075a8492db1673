// The `robotseg serve` wire protocol (docs/serve.md): client messages, their strict validation, and the
// stable error codes. Host-agnostic (no Node imports): the Node server (src/node/serve/) feeds it text.
// Validation here is structural (types, ranges, ids); what needs the frame size (points inside the
// frame) or the model (robot targets) is checked by the session when it applies the prompt.
import type { Point } from '../model/image_predictor.js';

/** Every error code the server sends (WebSocket `error` messages and HTTP error bodies). */
export const ERROR_CODES = [
  'bad_json',
  'bad_message',
  'bad_prompt',
  'bad_frame',
  'too_large',
  'out_of_order',
  'unknown_object',
  'needs_robotseg',
  'unauthorized',
  'too_many_sessions',
  'slow_consumer',
  'not_found',
  'method_not_allowed',
  'shutting_down',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A client mistake (or a refused request) with its stable code; the session answers it and closes. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** WebSocket close code for an error: 1013 (try again later) for capacity, 1011 for server faults, else 1008 (policy). */
export function closeCodeFor(code: ErrorCode): number {
  if (code === 'too_many_sessions') return 1013;
  if (code === 'internal') return 1011;
  if (code === 'shutting_down') return 1001;
  return 1008;
}

/** Limits that keep one client from holding unbounded memory or GPU time. */
export const LIMITS = {
  /** Largest text (JSON) message, in bytes. */
  textBytes: 64 * 1024,
  /** Objects one session may track at once. */
  objects: 32,
  /** Points in one prompt. */
  points: 64,
  /** Prompt messages waiting for the next processed frame. */
  pendingPrompts: 64,
};

export type Box = [number, number, number, number];

/** One object's prompt: clicks and/or a box in frame pixels, and (RobotSeg) the target whose class token joins them. */
export interface ObjectPrompt {
  obj: number;
  points: Point[];
  box?: Box;
  /** RobotSeg target ('robot' | 'arm' | 'gripper'); alone (no points, no box) it is the automatic mode. */
  target?: string;
}

export type ClientMessage =
  /** The targets are already turned into objects (target i -> id i+1), in the order given: targets first. */
  | { type: 'start'; objects: ObjectPrompt[] }
  | { type: 'prompt'; prompt: ObjectPrompt }
  | { type: 'remove'; obj: number }
  | { type: 'stop' };

/** Decoded latency of a result, in milliseconds. */
export interface LatencyMs {
  /** Image decode (JPEG/PNG -> RGB). */
  decode: number;
  /** Waiting for the GPU (other sessions' work). */
  queue: number;
  /** The frame's GPU work: encoder, memory, decoder, prompts, readback. */
  gpu: number;
  /** Masks -> bbox, area, RLE and the JSON text. */
  encode: number;
}

const bad = (msg: string) => new ProtocolError('bad_message', msg);

type Json = Record<string, unknown>;

function fields(o: Json, what: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw bad(`${what}: unknown field '${k}' (expected ${allowed.join(', ')})`);
  }
}

function objectId(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad(`${what}: 'obj' must be an integer >= 0, got ${JSON.stringify(v) ?? String(v)}`);
  return v;
}

function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw bad(`${what}: expected a finite number, got ${JSON.stringify(v) ?? String(v)}`);
  return v;
}

function parsePoints(v: unknown, what: string): Point[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(`${what}: 'points' must be an array of [x, y, label]`);
  if (v.length > LIMITS.points)
    throw new ProtocolError('too_large', `${what}: ${v.length} points (at most ${LIMITS.points})`);
  return v.map((p, i) => {
    const at = `${what}: point ${i}`;
    if (!Array.isArray(p) || (p.length !== 2 && p.length !== 3)) throw bad(`${at}: expected [x, y] or [x, y, label]`);
    const x = finite(p[0], `${at} x`);
    const y = finite(p[1], `${at} y`);
    const label = p.length === 3 ? p[2] : 1;
    if (label !== 0 && label !== 1) throw bad(`${at}: label must be 1 (foreground) or 0 (background)`);
    return { x, y, label };
  });
}

function parseBox(v: unknown, what: string): Box | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 4) throw bad(`${what}: 'box' must be [x0, y0, x1, y1]`);
  const b = v.map((x, i) => finite(x, `${what}: box[${i}]`)) as Box;
  if (!(b[2] > b[0] && b[3] > b[1]))
    throw new ProtocolError(
      'bad_prompt',
      `${what}: empty or inverted box ${JSON.stringify(b)} (need x1 > x0 and y1 > y0)`,
    );
  return b;
}

function parseTarget(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw bad(`${what}: 'target' must be a non-empty string`);
  return v;
}

function parseObject(v: unknown, what: string, needsPrompt: boolean): ObjectPrompt {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what}: expected an object`);
  const o = v as Json;
  fields(o, what, ['obj', 'points', 'box', 'target']);
  const obj = objectId(o.obj, what);
  const at = `${what} (obj ${obj})`;
  const points = parsePoints(o.points, at);
  const box = parseBox(o.box, at);
  const target = parseTarget(o.target, at);
  if (needsPrompt && points.length === 0 && !box && target === undefined)
    throw bad(`${at}: give 'points', a 'box' or (RobotSeg) a 'target'`);
  return { obj, points, ...(box ? { box } : {}), ...(target !== undefined ? { target } : {}) };
}

function parseStart(o: Json): ClientMessage {
  fields(o, 'start', ['type', 'targets', 'objects']);
  const out: ObjectPrompt[] = [];
  if (o.targets !== undefined) {
    if (!Array.isArray(o.targets) || o.targets.some((t) => typeof t !== 'string' || t === ''))
      throw bad('start: \'targets\' must be an array of target names (e.g. ["robot"])');
    const targets = o.targets as string[];
    if (new Set(targets).size !== targets.length)
      throw bad(`start: a target is repeated in ${JSON.stringify(targets)}`);
    targets.forEach((target, i) => {
      out.push({ obj: i + 1, points: [], target });
    });
  }
  if (o.objects !== undefined) {
    if (!Array.isArray(o.objects)) throw bad("start: 'objects' must be an array");
    o.objects.forEach((v, i) => {
      const p = parseObject(v, `start: objects[${i}]`, true);
      const clash = out.find((q) => q.obj === p.obj);
      if (clash)
        throw bad(
          `start: object id ${p.obj} is given twice (ids must be distinct; target i takes id i+1 — to give a target another id, list it in 'objects' as {"obj": N, "target": "robot"})`,
        );
      out.push(p);
    });
  }
  if (out.length === 0) throw bad("start: give 'targets' (RobotSeg) and/or 'objects' with first-frame prompts");
  if (out.length > LIMITS.objects)
    throw new ProtocolError('too_large', `start: ${out.length} objects (at most ${LIMITS.objects} per session)`);
  return { type: 'start', objects: out };
}

/** Parse one text message. Throws ProtocolError (bad_json, bad_message, bad_prompt, too_large). */
export function parseClientMessage(text: string): ClientMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('bad_json', `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw bad(`expected a JSON object with a "type", got ${Array.isArray(v) ? 'an array' : typeof v}`);
  const o = v as Json;
  switch (o.type) {
    case 'start':
      return parseStart(o);
    case 'prompt': {
      const { type: _t, ...rest } = o;
      return { type: 'prompt', prompt: parseObject(rest, 'prompt', true) };
    }
    case 'remove':
      fields(o, 'remove', ['type', 'obj']);
      return { type: 'remove', obj: objectId(o.obj, 'remove') };
    case 'stop':
      fields(o, 'stop', ['type']);
      return { type: 'stop' };
    default:
      throw bad(
        `unknown message type ${JSON.stringify(o.type) ?? 'undefined'} (expected start, prompt, remove or stop; frames are binary messages)`,
      );
  }
}

/** The JSON text of an error message. */
export function errorMessage(code: ErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}
