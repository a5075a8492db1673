#!/usr/bin/env python3
"""Fixtures for test/kernels/resize_pil.test.ts: Pillow's default Image.resize((w, h)) (BICUBIC on
uint8 RGB), as the official SAM 2 video loader (sam2/utils/misc.py _load_img_as_tensor) calls it.

Run with Debian's Pillow (apt-get install -y python3-pil python3-numpy; Pillow 9.4.0 on Debian 12):
    /usr/bin/python3 scripts/make_pil_fixtures.py
Writes test/fixtures/pil_resize/<source name>.png (the input as Pillow decodes it, lossless, so the
test does not depend on a JPEG decoder), <case>_out.png (Pillow's result) and manifest.json.
"""
import json
import os

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'pil_resize')

# (name, source relative to the repo root, output (width, height))
CASES = [
    # upscale, as the golden video frames (200x150) -> SAM's 256 input of the reduced test config
    ('upscale', 'test/fixtures/golden/video_frame0.png', (256, 256)),
    # downscale with the ratios of a 960x544 RoboEngine frame -> 256x256 (3.75x, 2.125x): antialiased taps
    ('downscale', 'test/fixtures/video_clip/00000.jpg', (64, 64)),
    # odd sizes: width down, height up
    ('odd', 'test/fixtures/golden/image_200x150.png', (37, 203)),
    # width unchanged: Pillow skips the horizontal pass
    ('same_width', 'test/fixtures/golden/video_frame0.png', (200, 61)),
    # height unchanged: Pillow skips the vertical pass
    ('same_height', 'test/fixtures/video_clip/00001.jpg', (97, 136)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {'pillow': PIL.__version__, 'cases': []}
    for name, src, size in CASES:
        im = Image.open(os.path.join(ROOT, src)).convert('RGB')
        out = np.array(im.resize(size))  # default filter: BICUBIC (Pillow >= 7 for RGB)
        assert out.dtype == np.uint8 and out.shape == (size[1], size[0], 3)
        inp = os.path.splitext(os.path.basename(src))[0] + '.png'  # one copy per distinct source
        im.save(os.path.join(OUT, inp), optimize=True)
        Image.fromarray(out, 'RGB').save(os.path.join(OUT, f'{name}_out.png'), optimize=True)
        manifest['cases'].append({'name': name, 'source': src, 'input': inp, 'in': [im.size[0], im.size[1]], 'out': list(size)})
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
