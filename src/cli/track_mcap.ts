// `robotseg track FILE.mcap --topic TOPIC --out OUT.mcap [--weights …] [prompts | --target …]`
//
// `track` over one image topic of an MCAP recording (a ROS 2 bag): the topic's frames (in log-time
// order) go through the same predictor path as a folder of frames (track.ts's track(): prompts, --target
// automatic mode, --reverse, --refine, --resize, --max-frames), and OUT.mcap is the input with every
// schema, channel, message, attachment and metadata record unchanged plus one mask channel per object:
// `<topic>/<target>_mask` (RobotSeg automatic mode) or `<topic>/obj<id>_mask` (prompts), mono8
// sensor_msgs/msg/Image with each frame's header and log time (src/node/mcap/). Prompts use frame
// indices into the topic. User errors (not MCAP, truncated, no such topic, unknown schema or encoding)
// exit 2 with one line, before any GPU work.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { formatBytes } from '../graph/weights_io.js';
import { type MaskChannelSpec, McapMaskOutput, maskTopic } from '../node/mcap/annotate.js';
import { McapFormatError } from '../node/mcap/image_messages.js';
import { hasMcapMagic } from '../node/mcap/records.js';
import { McapTopicSource } from '../node/mcap/topic_source.js';
import { loadModelWithStore } from '../node/load_model.js';
import { checkDistinct, checkInputFile, checkOutputFile } from '../node/paths.js';
import { UserError, cliRuntime, oneLine, parsePrecision } from './errors.js';
import { parseTargets } from './robot_targets.js';
import {
  type PromptArg,
  type PromptPlan,
  type TrackOpts,
  checkPrompts,
  parsePrompts,
  positiveInt,
  resolveTrackModel,
  track,
  trackUserErrors,
} from './track.js';

/** A path ending in .mcap, or a file starting with the MCAP magic. */
export function isMcapSource(path: string): boolean {
  if (extname(path).toLowerCase() === '.mcap') return true;
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(8);
      return hasMcapMagic(head.subarray(0, readSync(fd, head, 0, 8, 0)));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** McapFormatErrors become one-line user errors; then track.ts's mapping. */
function mcapErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return trackUserErrors(what, async () => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof McapFormatError) throw new UserError(oneLine(e.message));
      throw e;
    }
  });
}

function log(quiet: boolean | undefined, s: string): void {
  if (!quiet) process.stderr.write(s);
}

/** `--out FILE.mcap`: a writable file path (*.mcap), neither the recording nor the weights. */
function checkOut(out: string | undefined, sourceArg: string, weights: string): string {
  if (out === undefined)
    throw new UserError('--out FILE.mcap is required (with an MCAP source the masks go into a copy of the recording)');
  if (extname(out).toLowerCase() !== '.mcap')
    throw new UserError(`--out '${out}': with an MCAP source the output is an MCAP file (name it *.mcap)`);
  checkOutputFile('--out', out);
  checkDistinct(
    [
      { what: 'the recording', path: sourceArg },
      { what: '--weights', path: weights },
    ],
    [{ what: '--out', path: out }],
  );
  return out;
}

/** Run the command on an MCAP source; returns the summary line for stdout. */
export async function runTrackMcap(sourceArg: string, opts: TrackOpts, promptArgs: PromptArg[]): Promise<string> {
  // 1. arguments (no file read yet)
  const precision = parsePrecision(opts.precision);
  let targets = parseTargets(opts.target);
  const plan = promptArgs.length === 0 ? (new Map() as PromptPlan) : parsePrompts(promptArgs);
  const maxFrames = positiveInt('--max-frames', opts.maxFrames);
  if (opts.resize !== undefined && opts.resize !== 'image' && opts.resize !== 'official-video')
    throw new UserError(`--resize '${opts.resize}': expected image or official-video`);
  if (opts.topic === undefined || opts.topic === '')
    throw new UserError(`--topic TOPIC is required with an MCAP source ('${sourceArg}')`);
  if (opts.overlay !== undefined || opts.fps !== undefined)
    throw new UserError('--overlay / --fps are not available with an MCAP source (the masks go into the MCAP file)');
  if (opts.weights === undefined) throw new UserError('--weights FILE is required (a .safetensors or .pt checkpoint)');
  checkInputFile('weights', opts.weights);
  let isDir = false;
  try {
    isDir = statSync(sourceArg).isDirectory();
  } catch {
    // missing: checkInputFile says so
  }
  if (isDir) throw new UserError(`--topic is for MCAP recordings; '${sourceArg}' is a folder (of frames?)`);
  checkInputFile('the recording', sourceArg);
  const out = checkOut(opts.out, sourceArg, opts.weights);

  // 2. the recording (first read: the topic's frames) and the prompts against them
  const topic = opts.topic;
  const src = await mcapErrors(sourceArg, () => McapTopicSource.open(sourceArg, { topic, maxFrames }));
  let output: McapMaskOutput | null = null;
  try {
    const maskPrompts = checkPrompts(plan, src, sourceArg);

    // 3. weights header + config, the mask channels, then the GPU
    const { config, source, auto } = await resolveTrackModel(opts, plan, targets);
    targets = auto ?? targets;
    const objIds = auto ? auto.map((_, k) => k + 1) : [...plan.keys()];
    const channels: MaskChannelSpec[] = objIds.map((id, k) => {
      const name = auto ? auto[k] : `obj${id}`;
      const metadata = new Map([
        ['source_topic', topic],
        ['object_id', String(id)],
      ]);
      if (auto) metadata.set('target', auto[k]);
      return { objId: id, topic: maskTopic(topic, name), metadata };
    });
    output = await mcapErrors(sourceArg, async () => new McapMaskOutput(src, out, channels));

    const rt = await cliRuntime({ precision });
    try {
      const t0 = performance.now();
      const loaded = await trackUserErrors(`weights ${opts.weights}`, () =>
        loadModelWithStore(rt, opts.weights!, config, { precision }),
      );
      log(
        opts.quiet,
        `weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)} (${loaded.format}), config ${config.name} (${source}), loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
      log(
        opts.quiet,
        `mcap ${sourceArg}: topic ${topic}, ${src.numFrames} frames, ${src.width}x${src.height}, ${src.summary.messageCount} messages on ${src.summary.channels.length} channels\n`,
      );
      const summary = await mcapErrors(sourceArg, () =>
        track(rt, loaded.model, src, plan, maskPrompts, output!, opts, auto ?? undefined, targets?.[0]),
      );
      loaded.store.destroy();
      const masks = await mcapErrors(`--out ${out}`, () => output!.finish());
      return (
        `${sourceArg} ${topic}: ${src.numFrames} frames ${src.width}x${src.height}, ${objIds.length} object${objIds.length > 1 ? 's' : ''} (${objIds.join(', ')}), ` +
        `${summary}; wrote ${out}: ${src.summary.messageCount} messages copied + ${masks} masks on ${channels.map((c) => c.topic).join(', ')}`
      );
    } finally {
      rt.destroy();
    }
  } finally {
    output?.abort();
    src.close();
  }
}
