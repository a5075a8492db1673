// Query of `POST /v1/segment` (docs/serve.md): `points=x,y[,label];…`, `box=x0,y0,x1,y1`,
// `target=robot[,arm,…]` (RobotSeg), `format=json|png`, `token=T`. Host-agnostic parsing; the Node
// server runs the model.
import type { Point } from '../model/image_predictor.js';
import { type Box, LIMITS, ProtocolError } from './protocol.js';

export interface SegmentQuery {
  points: Point[];
  box?: Box;
  /** RobotSeg targets (undefined: none given). */
  targets?: string[];
  format: 'json' | 'png';
}

const PARAMS = ['points', 'box', 'target', 'format', 'token'];

function numbers(name: string, v: string, counts: number[]): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (!counts.includes(parts.length))
    throw new ProtocolError('bad_message', `${name}='${v}': expected ${counts.join(' or ')} comma-separated numbers`);
  return parts.map((s) => {
    const x = s === '' ? Number.NaN : Number(s);
    if (!Number.isFinite(x)) throw new ProtocolError('bad_message', `${name}='${v}': '${s}' is not a finite number`);
    return x;
  });
}

export function parseSegmentQuery(q: URLSearchParams): SegmentQuery {
  for (const k of new Set(q.keys())) {
    if (!PARAMS.includes(k))
      throw new ProtocolError('bad_message', `unknown query parameter '${k}' (expected ${PARAMS.join(', ')})`);
    if (q.getAll(k).length > 1) throw new ProtocolError('bad_message', `query parameter '${k}' is given twice`);
  }
  const points: Point[] = [];
  const pv = q.get('points');
  if (pv !== null && pv !== '') {
    const items = pv.split(';');
    if (items.length > LIMITS.points)
      throw new ProtocolError('too_large', `${items.length} points (at most ${LIMITS.points})`);
    for (const item of items) {
      const [x, y, label = 1] = numbers('points', item, [2, 3]);
      if (label !== 0 && label !== 1)
        throw new ProtocolError('bad_message', `points='${item}': label must be 1 (foreground) or 0 (background)`);
      points.push({ x, y, label });
    }
  }
  let box: Box | undefined;
  const bv = q.get('box');
  if (bv !== null) {
    box = numbers('box', bv, [4]) as Box;
    if (!(box[2] > box[0] && box[3] > box[1]))
      throw new ProtocolError('bad_prompt', `box='${bv}': empty or inverted box (need x1 > x0 and y1 > y0)`);
  }
  let targets: string[] | undefined;
  const tv = q.get('target');
  if (tv !== null) {
    targets = tv.split(',').map((s) => s.trim());
    if (targets.some((t) => t === '')) throw new ProtocolError('bad_message', `target='${tv}': an empty target name`);
    if (new Set(targets).size !== targets.length)
      throw new ProtocolError('bad_message', `target='${tv}': a target is repeated`);
  }
  const format = q.get('format') ?? 'json';
  if (format !== 'json' && format !== 'png')
    throw new ProtocolError('bad_message', `format='${format}': expected json or png`);
  return { points, ...(box ? { box } : {}), ...(targets ? { targets } : {}), format };
}
