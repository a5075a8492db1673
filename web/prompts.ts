// Prompts on the shown frame: clicks and boxes (ImagePredictor.predict for an image, VideoPredictor
// .addPoints on a frame sequence or a stream), clearing them, a new object; RobotSeg's automatic mode
// (RobotSegImagePredictor for an image, VideoPredictor.addTarget on frames or a stream), offered only
// when the loaded weights are RobotSeg's.
import {
  type FrameResult,
  type Point,
  RobotSeg,
  RobotSegImagePredictor,
  type VideoPredictor,
} from '../src/browser/index.js';
import { $, autoMode, fail, setStatus, timing } from './dom.js';
import { type Prompts, redraw } from './draw.js';
import { model, rt, run } from './engine.js';
import { type Box, hooks, reportFrame } from './hooks.js';
import { encodeImage, frameVp, predictImage, pushVideoFrame, videoVp } from './sources.js';
import { nextObject, objId, resetObject, source } from './state.js';

// ------------------------------------------------------------------------------------ clicks and boxes

/** The current object's prompts on the shown frame (created empty). */
function currentPrompts(): Prompts | null {
  const s = source;
  if (!s) return null;
  if (s.kind === 'image') return s.prompts;
  const map =
    s.kind === 'frames' ? (s.prompts.get(s.shown) ?? s.prompts.set(s.shown, new Map()).get(s.shown)!) : s.prompts;
  if (!map.has(objId)) map.set(objId, { points: [], box: null });
  return map.get(objId)!;
}

/** A click or a box (source pixels) for the current object on the shown frame. */
export async function addPrompt(p: { point?: Point; box?: Box }): Promise<void> {
  const s = source;
  if (!s) return;
  if (!model) {
    fail(new Error('load weights first'));
    return;
  }
  if (autoMode()) {
    setStatus('automatic mode: choose a target and press Find (switch to clicks / box to prompt by hand)');
    return;
  }
  const pr = currentPrompts()!;
  if (p.point) pr.points.push(p.point);
  if (p.box) {
    pr.box = p.box;
    pr.points = [];
  }
  redraw();
  if (s.kind === 'image') {
    if (s.encoded) await run('decoding', predictImage);
    return;
  }
  await run('prompting', async () => {
    const t0 = performance.now();
    let frame: number;
    let vp: VideoPredictor;
    if (s.kind === 'frames') {
      frame = s.shown;
      vp = frameVp(s);
    } else {
      // prompts go on the frame the user sees: push it first if the stream has not seen it yet
      if (!s.framePushed) await pushVideoFrame(false);
      frame = s.frameIndex;
      vp = videoVp(s);
      if (hooks.recordStream)
        hooks.stream.push({ type: 'prompt', frame, objId, points: p.point ? [p.point] : [], box: p.box ?? null });
    }
    const r = await vp.addPoints(frame, objId, p.box ? { box: p.box } : { points: [p.point!] });
    const ms = performance.now() - t0;
    timing('prompt (frame)', ms);
    reportFrame('click', frame, r, ms, pr);
    showResult(frame, r);
  });
}

/** Show an object's new result on a frame of a frame sequence or a stream. */
function showResult(frame: number, r: FrameResult): void {
  const s = source;
  if (s?.kind === 'frames') {
    const m = s.masks.get(frame) ?? s.masks.set(frame, new Map()).get(frame)!;
    m.set(r.objId, r);
  } else if (s?.kind === 'video') {
    s.results = [...s.results.filter((x) => x.objId !== r.objId), r];
  }
  redraw();
}

export function clearPrompts(): void {
  void run('clearing', async () => {
    const s = source;
    if (!s) return;
    if (s.kind === 'image') {
      s.prompts = { points: [], box: null };
      s.result = null;
      s.auto = null;
    } else if (s.kind === 'frames') {
      s.vp?.reset();
      s.masks.clear();
      s.prompts.clear();
    } else {
      s.vp?.reset();
      s.results = [];
      s.prompts.clear();
      s.frameIndex = -1;
      s.framePushed = false;
    }
    resetObject();
    redraw();
  });
}

/** Prompts from now on are for a new object (frames and video; the image predictor segments one). */
export function newObject(): void {
  if (source?.kind !== 'image') nextObject();
}

/** The mode radio changed: back to clicks / box, an image not yet encoded is encoded now. */
export function modeChanged(mode: string): void {
  if (mode === 'auto') setStatus('automatic mode: choose a target and press Find');
  if (mode === 'prompts' && source?.kind === 'image' && !source.encoded && model) void encodeImage();
}

// ------------------------------------------------------------------------------------ automatic mode (RobotSeg)

const TARGET_LABELS: Record<string, string> = { robot: 'whole robot', arm: 'arm', gripper: 'gripper' };

/** Automatic mode is offered only for RobotSeg weights (its class tokens name the targets). */
export function enableAuto(vocab: string[] | null): void {
  const sel = $<HTMLSelectElement>('auto-target');
  if (vocab) {
    const keep = sel.value;
    sel.replaceChildren(
      ...vocab.map((c) => {
        const o = document.createElement('option');
        o.value = c;
        o.textContent = TARGET_LABELS[c] ?? c;
        return o;
      }),
    );
    sel.value = vocab.includes(keep) ? keep : vocab.includes('robot') ? 'robot' : vocab[0];
  } else if (autoMode()) {
    (document.querySelector('input[name=mode][value=prompts]') as HTMLInputElement).checked = true;
  }
  for (const id of ['mode-auto', 'auto-target', 'auto-run']) $<HTMLInputElement>(id).disabled = !vocab;
  $('auto-wrap').title = vocab
    ? 'RobotSeg automatic mode: segment the selected target without prompts'
    : 'needs RobotSeg weights';
}

/** RobotSeg's add_new_robot on the shown frame (an image is a one-frame video). */
export function findTarget(): Promise<unknown> {
  const category = $<HTMLSelectElement>('auto-target').value;
  return run(`finding the ${TARGET_LABELS[category] ?? category}`, async () => {
    const s = source;
    if (!s || !model || !rt) throw new Error(!model ? 'load weights first' : 'open an image, frames or a video first');
    if (!(model instanceof RobotSeg)) throw new Error('automatic mode needs RobotSeg weights');
    const t0 = performance.now();
    let frame: number;
    let r: FrameResult;
    if (s.kind === 'image') {
      frame = 0;
      [{ result: r }] = await new RobotSegImagePredictor(rt, model).predict(s.img, [category]);
      s.prompts = { points: [], box: null };
      s.result = null;
      s.auto = r;
    } else if (s.kind === 'frames') {
      frame = s.shown;
      r = await frameVp(s).addTarget(frame, objId, category);
    } else {
      if (!s.framePushed) await pushVideoFrame(false);
      frame = s.frameIndex;
      r = await videoVp(s).addTarget(frame, objId, category);
      if (hooks.recordStream) hooks.stream.push({ type: 'target', frame, objId, category });
    }
    const ms = performance.now() - t0;
    timing('automatic (frame)', ms);
    reportFrame('auto', frame, r, ms, null, category);
    showResult(frame, r);
  });
}
