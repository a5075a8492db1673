#!/usr/bin/python3
"""Fixtures for test/io/decode.test.ts: small PNG / JPEG files of every kind the decoder must read, with
the RGB bytes Debian 12's Pillow gives for Image.open(path).convert('RGB') (what the official SAM 2.1 code
does), so the test checks src/image/decode.ts bit for bit without Python.

Run on Debian 12 (bookworm) with its packages, as root:
    apt-get install -y python3-pil python3-numpy libjpeg-turbo-progs libturbojpeg0
    /usr/bin/python3 scripts/make_decode_fixtures.py
(python3-pil 9.4.0 links libjpeg62-turbo 2.1.5; cjpeg / jpegtran come from libjpeg-turbo-progs 2.1.5 and
YCCK is written through libturbojpeg's tjCompress2, which encodes CMYK input as YCCK.)

Writes test/fixtures/decode/: the inputs, manifest.json (per case: file, PIL's mode, size, sha256 of the
expected RGB bytes, EXIF orientation and the sha256 after ImageOps.exif_transpose, or the error PIL raised)
and, for inputs under 20 000 RGB bytes, the expected bytes themselves as <name>.rgb.z (zlib) so a
mismatch can name the first differing pixel. The real photos (panda.jpg, in test/fixtures/images/, and
RoboEngine's first JPEG frame, copied here) are checked by hash only.
"""
import ctypes
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps, features

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'decode')
SHARED = os.path.join(ROOT, '..', 'shared', 'data')
PANDA = os.path.join(ROOT, 'test', 'fixtures', 'images', 'panda.jpg')
ROBO = os.path.join(SHARED, 'roboengine', 'video_clip', 'JPEGImages', '00000.jpg')

rng = np.random.default_rng(12)
photo = np.asarray(Image.open(PANDA).convert('RGB'))


def crop(w, h, x0=300, y0=180):
    return np.ascontiguousarray(photo[y0:y0 + h, x0:x0 + w])


def noise(w, h, c=3):
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


TMP = tempfile.mkdtemp()


def ppm(a):
    p = os.path.join(TMP, 'in.ppm' if a.ndim == 3 else 'in.pgm')
    Image.fromarray(a).save(p)
    return p


def cjpeg(name, a, *args):
    subprocess.run(['cjpeg', *args, '-outfile', os.path.join(OUT, name + '.jpg'), ppm(a)], check=True)
    return name + '.jpg'


def scans(name, text):
    p = os.path.join(TMP, name + '.scans')
    with open(p, 'w') as f:
        f.write(text)
    return p


def pil_save(name, im, ext, **kw):
    im.save(os.path.join(OUT, name + '.' + ext), **kw)
    return name + '.' + ext


def ycck(name, cmyk, quality=85):
    """CMYK pixels -> YCCK JPEG via libturbojpeg (TJPF_CMYK input is always written as YCCK)."""
    tj = ctypes.CDLL('libturbojpeg.so.0')
    tj.tjInitCompress.restype = ctypes.c_void_p
    h = tj.tjInitCompress()
    h_, w_ = cmyk.shape[:2]
    buf = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_ulong(0)
    src = np.ascontiguousarray(cmyk).ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))
    TJPF_CMYK, TJSAMP_420 = 11, 2
    r = tj.tjCompress2(ctypes.c_void_p(h), src, w_, 0, h_, TJPF_CMYK, ctypes.byref(buf), ctypes.byref(size),
                       TJSAMP_420, quality, 0)
    assert r == 0
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(ctypes.c_void_p(h))
    with open(os.path.join(OUT, name + '.jpg'), 'wb') as f:
        f.write(data)
    return name + '.jpg'


# ----------------------------------------------------------------------------------------------- PNG

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(name, samples, bit_depth, color_type, plte=None, trns=None, interlace=False, exif=None):
    """Write a PNG by hand (filter 0 rows) so every bit depth / colour type / chunk can be made."""
    h, w = samples.shape[:2]
    s = samples.reshape(h, w, -1)

    def pack(rows):
        out = b''
        for row in rows:
            vals = row.reshape(-1).astype(np.uint32)
            if bit_depth == 16:
                line = vals.astype('>u2').tobytes()
            elif bit_depth == 8:
                line = vals.astype(np.uint8).tobytes()
            else:
                per = 8 // bit_depth
                pad = (-len(vals)) % per
                v = np.concatenate([vals, np.zeros(pad, np.uint32)]).reshape(-1, per)
                shifts = np.array([8 - bit_depth * (k + 1) for k in range(per)], np.uint32)
                line = (v << shifts).sum(1).astype(np.uint8).tobytes()
            out += b'\x00' + line
        return out

    if interlace:
        raw = b''
        for x0, y0, dx, dy in ADAM7:
            sub = s[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += pack(sub)
    else:
        raw = pack(s)

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)

    data = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, bit_depth, color_type, 0, 0,
                                                             1 if interlace else 0))
    if plte is not None:
        data += chunk(b'PLTE', bytes(np.asarray(plte, np.uint8).reshape(-1)))
    if trns is not None:
        data += chunk(b'tRNS', trns)
    if exif is not None:
        data += chunk(b'eXIf', exif)
    data += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    with open(os.path.join(OUT, name + '.png'), 'wb') as f:
        f.write(data)
    return name + '.png'


# --------------------------------------------------------------------------------------------- cases


def make_cases():
    c = []  # (name, file, note)
    a = crop(71, 50)
    odd = crop(17, 13, 350, 200)
    n = noise(29, 37)
    # JPEG: subsampling, progression, restarts, colour spaces, sizes
    for samp, tag in [('1x1', '444'), ('2x1', '422'), ('2x2', '420'), ('1x2', '440'), ('4x1', '411')]:
        c.append(('jpeg_baseline_' + tag, cjpeg('jpeg_baseline_' + tag, a, '-quality', '85', '-sample', samp),
                  f'baseline, {tag} subsampling (cjpeg -sample {samp})'))
    c.append(('jpeg_progressive_420', cjpeg('jpeg_progressive_420', a, '-progressive', '-sample', '2x2'),
              'progressive, 4:2:0'))
    c.append(('jpeg_progressive_444', cjpeg('jpeg_progressive_444', n, '-progressive', '-sample', '1x1'),
              'progressive, 4:4:4, noise'))
    c.append(('jpeg_progressive_440', cjpeg('jpeg_progressive_440', a, '-progressive', '-sample', '1x2'),
              'progressive, 4:4:0 (h1v2 fancy upsampling)'))
    c.append(('jpeg_pil_progressive', pil_save('jpeg_pil_progressive', Image.fromarray(a), 'jpg', quality=90,
                                               progressive=True), 'progressive, written by PIL'))
    c.append(('jpeg_restart_420', cjpeg('jpeg_restart_420', a, '-restart', '1B', '-sample', '2x2'),
              'restart marker after every MCU'))
    c.append(('jpeg_restart_progressive', cjpeg('jpeg_restart_progressive', a, '-restart', '3B', '-progressive'),
              'progressive with restart markers'))
    c.append(('jpeg_gray', cjpeg('jpeg_gray', a, '-grayscale'), 'grayscale (1 component)'))
    c.append(('jpeg_gray_progressive', cjpeg('jpeg_gray_progressive', a, '-grayscale', '-progressive'),
              'grayscale, progressive'))
    c.append(('jpeg_rgb', cjpeg('jpeg_rgb', a, '-rgb'), 'RGB colour space (Adobe marker, transform 0)'))
    c.append(('jpeg_odd_17x13', cjpeg('jpeg_odd_17x13', odd, '-sample', '2x2'), 'odd size 17x13, 4:2:0'))
    c.append(('jpeg_odd_17x13_422', cjpeg('jpeg_odd_17x13_422', odd, '-sample', '2x1', '-progressive'),
              'odd size 17x13, 4:2:2, progressive'))
    c.append(('jpeg_1x1', cjpeg('jpeg_1x1', crop(1, 1), '-sample', '2x2'), '1x1 pixel'))
    c.append(('jpeg_9x1', cjpeg('jpeg_9x1', crop(9, 1), '-sample', '2x2'), '9x1 (narrow chroma: no fancy upsampling)'))
    c.append(('jpeg_q100', cjpeg('jpeg_q100', n, '-quality', '100', '-sample', '2x2'), 'quality 100, noise'))
    c.append(('jpeg_q3', cjpeg('jpeg_q3', a, '-quality', '3', '-sample', '2x2'), 'quality 3 (coarse tables)'))
    c.append(('jpeg_mixed_sampling', cjpeg('jpeg_mixed_sampling', a, '-sample', '2x2,1x1,2x1'),
              'unusual per-component sampling factors'))
    c.append(('jpeg_sequential_multiscan', cjpeg('jpeg_sequential_multiscan', a, '-sample', '2x2', '-scans',
                                                 scans('seq', '0: 0 63 0 0;\n1: 0 63 0 0;\n2: 0 63 0 0;')),
              'sequential, one scan per component'))
    c.append(('jpeg_smoothing', cjpeg('jpeg_smoothing', crop(64, 48), '-sample', '2x2', '-scans', scans(
        'partial', '0,1,2: 0 0 0 1;\n0: 1 5 0 2;\n2: 1 63 0 1;\n1: 1 63 0 1;\n0: 6 63 0 2;\n0: 1 63 2 1;')),
        'progressive with unrefined bits: libjpeg-turbo 2.1 block smoothing'))
    c.append(('jpeg_dc_only', cjpeg('jpeg_dc_only', crop(64, 48), '-sample', '2x2', '-scans',
                                    scans('dc', '0,1,2: 0 0 0 0;')),
              'progressive, DC scan only: block smoothing interpolates the AC terms'))
    cmyk = Image.fromarray(np.concatenate([crop(40, 30), noise(40, 30, 1)], 2), 'CMYK')
    c.append(('jpeg_cmyk', pil_save('jpeg_cmyk', cmyk, 'jpg', quality=90),
              'CMYK written by PIL (Adobe marker, inverted)'))
    c.append(('jpeg_ycck', ycck('jpeg_ycck', np.asarray(cmyk)), 'YCCK (Adobe transform 2), via libturbojpeg'))
    # JPEG data cut short but closed with EOI: libjpeg warns and fills with grey, PIL returns the image
    b = open(os.path.join(OUT, 'jpeg_progressive_420.jpg'), 'rb').read()
    with open(os.path.join(OUT, 'jpeg_cut_eoi.jpg'), 'wb') as f:
        f.write(b[:len(b) * 7 // 10] + b'\xff\xd9')
    c.append(('jpeg_cut_eoi', 'jpeg_cut_eoi.jpg', 'progressive data cut at 70 % and closed with EOI'))
    b = open(os.path.join(OUT, 'jpeg_baseline_420.jpg'), 'rb').read()
    with open(os.path.join(OUT, 'jpeg_cut_eoi_baseline.jpg'), 'wb') as f:
        f.write(b[:len(b) * 6 // 10] + b'\xff\xd9')
    c.append(('jpeg_cut_eoi_baseline', 'jpeg_cut_eoi_baseline.jpg', 'baseline data cut at 60 % and closed with EOI'))
    # EXIF orientation 1..8 on a non-square image
    base = Image.fromarray(crop(23, 15, 280, 150))
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        c.append((f'jpeg_exif_{o}', pil_save(f'jpeg_exif_{o}', base, 'jpg', quality=92, exif=ex.tobytes()),
                  f'EXIF orientation {o}'))
    ex = Image.Exif()
    ex[0x0112] = 6
    c.append(('png_exif_6', png('png_exif_6', crop(23, 15, 280, 150), 8, 2, exif=ex.tobytes()[6:]),
              'PNG eXIf chunk, orientation 6'))
    # real photos
    c.append(('photo_panda', '../images/panda.jpg', 'real photo (CtRNet panda.jpg, 640x480)'))
    shutil.copyfile(ROBO, os.path.join(OUT, 'roboengine_00000.jpg'))
    c.append(('photo_roboengine', 'roboengine_00000.jpg', 'real video frame (RoboEngine clip frame 0, 960x544)'))

    # PNG: every colour type and bit depth
    g = (crop(19, 11)[..., 1]).astype(np.uint32)
    for bits in (1, 2, 4, 8):
        c.append((f'png_gray{bits}', png(f'png_gray{bits}', g >> (8 - bits), bits, 0), f'grey, {bits}-bit'))
    g16 = np.concatenate([rng.integers(0, 300, (11, 10)), rng.integers(0, 65536, (11, 9))], 1).astype(np.uint32)
    c.append(('png_gray16', png('png_gray16', g16, 16, 0), 'grey, 16-bit (PIL clips to 255)'))
    c.append(('png_gray_trns', png('png_gray_trns', g, 8, 0, trns=struct.pack('>H', int(g[0, 0]))),
              'grey with tRNS'))
    la = np.stack([g, 255 - g], -1)
    c.append(('png_gray_alpha8', png('png_gray_alpha8', la, 8, 4), 'grey + alpha, 8-bit'))
    c.append(('png_gray_alpha16', png('png_gray_alpha16', rng.integers(0, 65536, (11, 19, 2)).astype(np.uint32), 16, 4),
              'grey + alpha, 16-bit (PIL keeps the high byte)'))
    rgb = crop(19, 11).astype(np.uint32)
    c.append(('png_rgb8', png('png_rgb8', rgb, 8, 2), 'RGB, 8-bit'))
    c.append(('png_rgb16', png('png_rgb16', rng.integers(0, 65536, (11, 19, 3)).astype(np.uint32), 16, 2),
              'RGB, 16-bit (PIL keeps the high byte)'))
    c.append(('png_rgba8', png('png_rgba8', np.concatenate([rgb, noise(19, 11, 1)], 2), 8, 6), 'RGBA, 8-bit'))
    c.append(('png_rgba16', png('png_rgba16', rng.integers(0, 65536, (11, 19, 4)).astype(np.uint32), 16, 6),
              'RGBA, 16-bit'))
    c.append(('png_rgb_interlaced', png('png_rgb_interlaced', rgb, 8, 2, interlace=True), 'RGB, Adam7 interlaced'))
    c.append(('png_gray2_interlaced', png('png_gray2_interlaced', g >> 6, 2, 0, interlace=True),
              'grey 2-bit, Adam7 interlaced'))
    for bits in (1, 2, 4, 8):
        k = 1 << bits
        pal = rng.integers(0, 256, (k, 3))
        idx = rng.integers(0, k, (11, 19)).astype(np.uint32)
        c.append((f'png_palette{bits}', png(f'png_palette{bits}', idx, bits, 3, plte=pal), f'palette, {bits}-bit'))
    pal = rng.integers(0, 256, (16, 3))
    idx = rng.integers(0, 16, (11, 19)).astype(np.uint32)
    c.append(('png_palette_trns', png('png_palette_trns', idx, 8, 3, plte=pal, trns=bytes(range(0, 160, 10))),
              'palette with tRNS (alpha dropped)'))
    idx = rng.integers(0, 12, (11, 19)).astype(np.uint32)
    c.append(('png_palette_short', png('png_palette_short', idx, 8, 3, plte=pal[:8]),
              'palette of 8 entries, indices up to 11'))
    c.append(('png_pil_rgb', pil_save('png_pil_rgb', Image.fromarray(crop(33, 21)), 'png'), 'RGB PNG written by PIL'))
    return c


# input PIL refuses: the decoder must refuse too (with its own one-line message)
def make_errors():
    e = []
    b = open(os.path.join(OUT, 'jpeg_baseline_420.jpg'), 'rb').read()
    with open(os.path.join(OUT, 'bad_truncated.jpg'), 'wb') as f:
        f.write(b[:len(b) // 2])
    e.append(('bad_truncated', 'bad_truncated.jpg', 'JPEG cut in half (no EOI)'))
    b = open(os.path.join(OUT, 'jpeg_progressive_420.jpg'), 'rb').read()
    with open(os.path.join(OUT, 'bad_truncated_progressive.jpg'), 'wb') as f:
        f.write(b[:len(b) - 40])
    e.append(('bad_truncated_progressive', 'bad_truncated_progressive.jpg', 'progressive JPEG missing its last 40 bytes'))
    b = open(os.path.join(OUT, 'png_rgb8.png'), 'rb').read()
    with open(os.path.join(OUT, 'bad_truncated.png'), 'wb') as f:
        f.write(b[:len(b) - 30])
    e.append(('bad_truncated_png', 'bad_truncated.png', 'PNG missing its last 30 bytes'))
    with open(os.path.join(OUT, 'bad_garbage.jpg'), 'wb') as f:
        f.write(b'\xff\xd8\xff' + bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
    e.append(('bad_garbage_jpeg', 'bad_garbage.jpg', 'JPEG signature followed by random bytes'))
    with open(os.path.join(OUT, 'bad_text.png'), 'wb') as f:
        f.write(b'this is not an image\n')
    e.append(('bad_text', 'bad_text.png', 'a text file named .png'))
    b = bytearray(open(os.path.join(OUT, 'jpeg_baseline_444.jpg'), 'rb').read())
    i = b.index(b'\xff\xc0')
    b[i + 4] = 12  # 12-bit precision
    with open(os.path.join(OUT, 'bad_12bit.jpg'), 'wb') as f:
        f.write(bytes(b))
    e.append(('bad_12bit', 'bad_12bit.jpg', 'SOF says 12-bit samples'))
    return e


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f != 'SOURCES.md':
            os.remove(os.path.join(OUT, f))
    cases = make_cases()
    manifest = {
        'generator': 'scripts/make_decode_fixtures.py',
        'pillow': PIL.__version__,
        'libjpeg_turbo': features.version('libjpeg_turbo'),
        'zlib': features.version('zlib'),
        'cases': [],
        'errors': [],
    }
    for name, file, note in cases:
        im = Image.open(os.path.join(OUT, file))
        mode = im.mode
        rgb = np.asarray(im.convert('RGB'))
        entry = {'name': name, 'file': file, 'note': note, 'mode': mode, 'width': rgb.shape[1], 'height': rgb.shape[0],
                 'sha256': hashlib.sha256(rgb.tobytes()).hexdigest()}
        orient = im.getexif().get(0x0112)
        if orient:
            t = np.asarray(ImageOps.exif_transpose(Image.open(os.path.join(OUT, file))).convert('RGB'))
            entry.update(orientation=orient, transposed={'width': t.shape[1], 'height': t.shape[0],
                                                         'sha256': hashlib.sha256(t.tobytes()).hexdigest()})
        if rgb.size < 20000:
            with open(os.path.join(OUT, name + '.rgb.z'), 'wb') as f:
                f.write(zlib.compress(rgb.tobytes(), 9))
            entry['rgb'] = name + '.rgb.z'
        manifest['cases'].append(entry)
    for name, file, note in make_errors():
        try:
            Image.open(os.path.join(OUT, file)).convert('RGB')
            raise SystemExit(f'{file}: PIL decoded it; not an error case')
        except (OSError, SyntaxError, ValueError) as ex:
            msg = f'{type(ex).__name__}: {ex}'.replace(os.path.join(OUT, ''), '')
            manifest['errors'].append({'name': name, 'file': file, 'note': note, 'pil': msg})
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    shutil.rmtree(TMP)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(manifest['cases'])} cases, {len(manifest['errors'])} error cases, {total} bytes in {OUT}")


if __name__ == '__main__':
    main()
