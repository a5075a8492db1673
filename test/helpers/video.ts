// Test videos made with the system ffmpeg (the callers skip without it, or require it under CI).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** `<framesDir>/%05d.jpg` -> an MPEG-4 (mpeg4 codec, faststart) video `out` at 5 frames/s. */
export function encodeClipMp4(framesDir: string, out: string): void {
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-framerate',
    '5',
    '-i',
    join(framesDir, '%05d.jpg'),
    '-c:v',
    'mpeg4',
    '-movflags',
    '+faststart',
    out,
  ]);
}
