// Bad input on the command line, one test per class (issue 12, items 3-5): every case must end with
// exit code 2 and ONE line `robotseg: …` last on stderr (no stack trace, no help text), leave no file
// behind and never hang (devices and FIFOs are refused before they are opened). All of these fail
// before the GPU; the GPU classes (NaN weights, late file-system errors, --quiet) are in
// errors_gpu.test.ts.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, type CliResult, ROOT, runCli, runCliInShell, runProcess } from '../helpers/cli.js';

const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
const WEIGHTS = join(GOLD, 'weights.safetensors');
const IMAGE = join(GOLD, 'image_200x150.png');
const CLIP = join(ROOT, 'test', 'fixtures', 'video_clip');
const TRAIN = join(ROOT, 'test', 'fixtures', 'train_clip');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** A fast failure takes a process start (1-3 s on a loaded 2-core machine); a hang is caught here. */
const BOUND_MS = 60_000;

/** Exit 2, the last stderr line is `robotseg: …` (one line), no stack trace, no usage dump. */
function expectUserError(r: CliResult, pattern: RegExp): void {
  const lines = r.err.trimEnd().split('\n');
  const last = lines[lines.length - 1];
  expect({ code: r.code, last }).toEqual({ code: 2, last: expect.stringMatching(/^robotseg: /) });
  expect(last).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at |Usage:/);
}

async function fails(args: string[], pattern: RegExp, env?: NodeJS.ProcessEnv): Promise<void> {
  const r = await runCli(args, { timeout: BOUND_MS, env: env && { ...process.env, ...env } });
  expectUserError(r, pattern);
}

/** A fresh folder; after the case it must hold exactly `keep`. */
function caseDir(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
}

describe('usage errors: exit 2 and a one-line hint, not the help', () => {
  it('unknown option, missing required option, missing argument, option without value, unknown command', async () => {
    await Promise.all([
      fails(['segment', IMAGE, '--weights', WEIGHTS, '--bogus'], /unknown option '--bogus'.*robotseg segment --help/),
      fails(['segment', IMAGE], /required option '--weights <file>' not specified/),
      fails(['convert', 'only-one.pt'], /missing required argument 'out'/),
    ]);
    await Promise.all([
      fails(['segment', IMAGE, '--weights'], /option '--weights <file>' argument missing/),
      fails(['nosuchcommand'], /unknown command 'nosuchcommand'/),
      fails([], /give a command/),
    ]);
  });

  it('--version prints the package version from any folder', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    const out = execFileSync(process.execPath, [join(ROOT, 'bin', 'robotseg.js'), '--version'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe(pkg.version);
  });

  it('bad option values and a bad ROBOTSEG_ADAPTER', async () => {
    await Promise.all([
      fails(['segment', IMAGE, '--weights', WEIGHTS, '--point', '1,nan'], /--point '1,nan'/),
      fails(['info'], /ROBOTSEG_ADAPTER='foo'/, { ROBOTSEG_ADAPTER: 'foo' }),
    ]);
  });
});

describe('inputs: regular files only, refused before they are opened (no hang)', () => {
  it('/dev/zero, a FIFO, a folder, a missing file as the image or the weights', async () => {
    const d = caseDir('inputs');
    const fifo = join(d, 'fifo.png');
    execFileSync('mkfifo', [fifo]);
    await Promise.all([
      fails(['segment', '/dev/zero', '--weights', WEIGHTS, '--point', '1,1'], /image '\/dev\/zero': a device/),
      fails(['segment', fifo, '--weights', WEIGHTS, '--point', '1,1'], /a FIFO/),
    ]);
    await Promise.all([
      fails(['edges', d, '--out', join(d, 'e.png')], /image '.*': a folder/),
      fails(['segment', IMAGE, '--weights', '/dev/zero', '--point', '1,1'], /weights '\/dev\/zero': a device/),
    ]);
    await Promise.all([
      fails(['track', fifo, '--weights', WEIGHTS, '--point', '0:1,1', '--out', join(d, 'o')], /a FIFO/),
      fails(['convert', join(d, 'missing.pt'), join(d, 'x.safetensors')], /no such file/),
    ]);
    expect(readdirSync(d)).toEqual(['fifo.png']);
  });
});

describe('outputs: checked before any work, never equal to an input or another output', () => {
  it('missing folder, a folder, a device node, the input itself, two outputs on one path', async () => {
    const d = caseDir('outputs');
    copyFileSync(IMAGE, join(d, 'img.png'));
    const img = join(d, 'img.png');
    const seg = (...a: string[]) => ['segment', img, '--weights', WEIGHTS, '--point', '10,10', ...a];
    await Promise.all([
      fails(seg('--out', join(d, 'nodir', 'm.png')), /folder '.*nodir' does not exist/),
      fails(seg('--out', d), /a folder, not a regular file/),
    ]);
    await Promise.all([
      fails(seg('--save-tensors', '/dev/full'), /'\/dev\/full': a device/),
      fails(seg('--out', img), /--out '.*img.png' is the same path as the image/),
    ]);
    await Promise.all([
      fails(seg('--out', join(d, 'a.png'), '--overlay', join(d, '.', 'a.png')), /--overlay .* and --out .* same path/),
      fails(['edges', img, '--out', img], /same path as the image/),
    ]);
    // a symlink to the input is the input
    execFileSync('ln', ['-s', 'img.png', join(d, 'link.png')]);
    await fails(seg('--out', join(d, 'link.png')), /same path as the image/);
    expect(readdirSync(d).sort()).toEqual(['img.png', 'link.png']);
  });

  // permission bits do not bind root (CI runs as root) through CAP_DAC_OVERRIDE: there the CLI runs under
  // util-linux's setpriv without that capability (still uid 0, so it reads the checkout as before), and the
  // folder's permission bits apply
  it('an unwritable output folder', async () => {
    const d = caseDir('readonly');
    chmodSync(d, 0o555);
    const out = join(d, 'e.png');
    if (process.getuid?.() === 0) {
      const r = await runProcess(
        'setpriv',
        ['--bounding-set=-dac_override,-dac_read_search', process.execPath, BIN, 'edges', IMAGE, '--out', out],
        { timeout: BOUND_MS },
      );
      expectUserError(r, /not writable/);
    } else {
      await fails(['edges', IMAGE, '--out', out], /not writable/);
    }
    chmodSync(d, 0o755);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('file-system errors after the work: exit 2, one line, no partial file', () => {
  it('a write that fails with EFBIG (RLIMIT_FSIZE 0) after eval computed its result', async () => {
    const d = caseDir('late');
    const EVAL = join(ROOT, 'test', 'fixtures', 'eval', 'clip');
    const script = `trap '' XFSZ; ulimit -f 0; exec "$0" "$@"`;
    const r = await runCliInShell(script, [
      'eval',
      '--pred',
      join(EVAL, 'pred'),
      '--gt',
      join(EVAL, 'gt'),
      '--cpu',
      '--json',
      join(d, 'r.json'),
    ]);
    expectUserError(r, /cannot write '.*r\.json': file too large \(EFBIG\)/);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('track: prompts and frames checked before writing', () => {
  it('a photo as --mask, a corrupt frame in the middle, --out equal to the frames folder', async () => {
    const d = caseDir('track');
    const frames = join(d, 'frames');
    mkdirSync(frames);
    for (const f of ['00000.jpg', '00001.jpg', '00002.jpg']) copyFileSync(join(CLIP, f), join(frames, f));
    const out = join(d, 'out');
    const track = (...a: string[]) => ['track', frames, '--weights', WEIGHTS, '--out', out, ...a];
    await Promise.all([
      fails(track('--point', '0:10,10', '--mask', `0:${join(CLIP, '00000.jpg')}`), /not a mask/),
      fails(track('--point', '0:10,10', '--mask', `0:${IMAGE}`), /not a mask/),
    ]);
    await fails(
      ['track', frames, '--weights', WEIGHTS, '--point', '0:10,10', '--out', frames],
      /same path as the source/,
    );
    // frame 1 cut short (an interrupted copy): refused up front, nothing written, --out not created
    const bytes = execFileSync('head', ['-c', '3000', join(CLIP, '00001.jpg')]);
    writeFileSync(join(frames, '00001.jpg'), bytes);
    await fails(track('--point', '0:10,10'), /frame 1 '00001.jpg'/);
    expect(readdirSync(d)).toEqual(['frames']);
  });
});

describe('no silent nonsense in the options', () => {
  it('segment --box twice, train --freeze matching nothing, train --resume garbage, convert --config that does not fit', async () => {
    const d = caseDir('options');
    writeFileSync(join(d, 'garbage.ckpt.safetensors'), 'this is not a checkpoint\n');
    const train = (...a: string[]) => ['train', TRAIN, '--weights', WEIGHTS, '--out', join(d, 't.safetensors'), ...a];
    await Promise.all([
      fails(['segment', IMAGE, '--weights', WEIGHTS, '--box', '1,1,50,50', '--box', '2,2,60,60'], /a second box/),
      fails(train('--freeze', 'bogus_prefix'), /--freeze 'bogus_prefix' matches no parameter/),
    ]);
    await Promise.all([
      fails(train('--resume', join(d, 'garbage.ckpt.safetensors')), /--resume .*not a robotseg train checkpoint/),
      fails(
        [
          'convert',
          join(ROOT, 'test', 'fixtures', 'io', 'tiny_p2.pt'),
          join(d, 'c.safetensors'),
          '--config',
          'sam2.1_hiera_t',
        ],
        /--config sam2.1_hiera_t: .*does not fit/,
      ),
    ]);
    expect(readdirSync(d)).toEqual(['garbage.ckpt.safetensors']);
  });
});
