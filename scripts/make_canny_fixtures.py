#!/usr/bin/env python3
"""Make the OpenCV Canny fixtures in test/fixtures/canny/.

Run with Debian's OpenCV (apt-get install -y python3-opencv; tested with 4.6.0+dfsg-12 on bookworm):

    /usr/bin/python3 scripts/make_canny_fixtures.py [--data /work/shared/data]

For each input image it writes a downscaled RGB PNG (PNG, not JPEG, so that every decoder sees the same
pixels) and, per case, the binary edge map of

    gray  = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray  = cv2.GaussianBlur(gray, (0, 0), sigma)          # only for cases with "blur"
    edges = cv2.Canny(gray, low, high, apertureSize=3, L2gradient=False)

as an 8-bit PNG (0/255). manifest.json lists the cases. The script also checks the facts the TypeScript
port relies on, and stops if one fails:
  - cvtColor(RGB2GRAY) == (R*9798 + G*19235 + B*3735 + 16384) >> 15 for every pixel (OpenCV 4.x uses 15
    fractional bits for 8-bit RGB->gray; the 14-bit 4899/9617/1868 form of older releases differs on
    some colours; checked on all 2^24 colours with 4.6.0);
  - GaussianBlur on uint8 == the integer form in `gauss_u8` below (fixed-point kernel with 8 fractional
    bits, error-diffused rounding, reflect-101 border, (sum + 2^15) >> 16);
  - Canny gives the same map with 1 and with several threads.

With --golden (default: the project's shared RobotSeg goldens, skipped when absent) it also copies the
`edges/golden_image/` tensors the kornia-mode test needs into robotseg_edges_golden_image.safetensors
(input cropped to rows 0..63 to keep the fixture small).
"""
import argparse
import json
import math
import os
import struct

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'canny')

IMAGES = [
    # name, source (relative to --data), output size (w, h)
    ('panda_320x240', 'ctrnet/panda.jpg', (320, 240)),
    ('roboengine_291x189', 'roboengine/image/image_original.png', (291, 189)),
]
CASES = [
    # image, low, high, blur sigma (0 = none)
    ('panda_320x240', 100, 200, 0),
    ('panda_320x240', 50, 150, 0),
    ('panda_320x240', 20, 60, 1.4),
    ('roboengine_291x189', 100, 200, 0),
    ('roboengine_291x189', 30, 90, 0),
    ('roboengine_291x189', 40, 120, 1.0),
]


def gray_formula(rgb):
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 9798 + g * 19235 + b * 3735 + 16384) >> 15).astype(np.uint8)


def gauss_kernel_fixed(sigma):
    """OpenCV's uint8 Gaussian kernel: size, bit-exact double kernel, then 8-bit fixed point with error diffusion."""
    n = int(round(sigma * 3 * 2 + 1)) | 1
    scale2x = -0.5 / (sigma * sigma)  # OpenCV: (2d)^2 * (-0.125 / sigma^2), the same double
    half = (n - 1) // 2
    vals = [math.exp((i - half) ** 2 * scale2x) for i in range(half)]
    s = 2 * sum(vals) + 1.0
    mul1 = 1.0 / s
    k = [v * mul1 for v in vals]
    fixed = [0] * n
    err = 0.0
    acc = 0
    for i in range(half):
        adj = k[i] * 256 + err
        v0 = int(round(adj))  # cvRound(softdouble): nearest, ties to even
        err = adj - v0
        fixed[i] = fixed[n - 1 - i] = v0
        acc += v0
    fixed[half] = 256 - 2 * acc
    return fixed


def reflect101(i, n):
    if n == 1:
        return 0
    while i < 0 or i >= n:
        i = -i if i < 0 else 2 * n - 2 - i
    return i


def gauss_u8(gray, sigma):
    k = gauss_kernel_fixed(sigma)
    r = len(k) // 2
    h, w = gray.shape
    src = gray.astype(np.int64)
    cols = np.array([[reflect101(x + j - r, w) for j in range(len(k))] for x in range(w)])
    hs = sum(k[j] * src[:, cols[:, j]] for j in range(len(k)))
    rows = np.array([[reflect101(y + i - r, h) for i in range(len(k))] for y in range(h)])
    vs = sum(k[i] * hs[rows[:, i], :] for i in range(len(k)))
    return np.clip((vs + (1 << 15)) >> 16, 0, 255).astype(np.uint8)


ST_DTYPES = {'F32': np.float32, 'I32': np.int32, 'U8': np.uint8}


def read_safetensors(path, prefix):
    with open(path, 'rb') as f:
        b = f.read()
    n = struct.unpack('<Q', b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__' or not k.startswith(prefix):
            continue
        s, e = v['data_offsets']
        out[k[len(prefix):]] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=ST_DTYPES[v['dtype']]).reshape(v['shape'])
    return out


def write_safetensors(path, tensors, metadata):
    names = {np.dtype(v): k for k, v in ST_DTYPES.items()}
    header = {'__metadata__': metadata}
    blobs, off = [], 0
    for k, v in tensors.items():
        raw = np.ascontiguousarray(v).tobytes()
        header[k] = {'dtype': names[v.dtype], 'shape': list(v.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def copy_golden(golden):
    d = read_safetensors(golden, 'edges/golden_image/')
    keep = {'input_normalized_rows0_64': d['input_normalized'][:, :, :64, :]}
    for k in ['input_max', 'input_max_gt_1p5', 'gray', 'blurred', 'gx', 'gy', 'magnitude_nms', 'angle_45_index',
              'nms_is_max', 'edge_map_token_grid']:
        keep[k] = d[k]
    write_safetensors(os.path.join(OUT, 'robotseg_edges_golden_image.safetensors'), keep, {
        'source': 'golden/robotseg/edges.safetensors, case edges/golden_image (kornia 0.8.1 canny as called by the '
                  'RobotSeg fork); input_normalized cropped to rows 0..63'})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/work/shared/data')
    ap.add_argument('--golden', default='/work/shared/golden/robotseg/edges.safetensors')
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if os.path.exists(args.golden):
        copy_golden(args.golden)

    rgbs = {}
    for name, src, size in IMAGES:
        bgr = cv2.imread(os.path.join(args.data, src), cv2.IMREAD_COLOR)
        assert bgr is not None, src
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(OUT, name + '.png'), bgr)
        back = cv2.imread(os.path.join(OUT, name + '.png'), cv2.IMREAD_COLOR)
        assert np.array_equal(back, bgr)
        rgbs[name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    manifest = {
        'about': 'OpenCV Canny fixtures made by scripts/make_canny_fixtures.py',
        'opencv': cv2.__version__,
        'numpy': np.__version__,
        'recipe': 'gray = cvtColor(RGB2GRAY); optional GaussianBlur(gray, (0,0), blur); '
                  'Canny(gray, low, high, apertureSize=3, L2gradient=False); edges PNG 0/255',
        'images': {name: {'source': src, 'width': size[0], 'height': size[1]} for name, src, size in IMAGES},
        'cases': [],
    }
    for image, low, high, blur in CASES:
        rgb = rgbs[image]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        assert np.array_equal(gray, gray_formula(rgb)), 'RGB2GRAY is not the 15-bit fixed-point formula'
        if blur:
            blurred = cv2.GaussianBlur(gray, (0, 0), blur)
            mine = gauss_u8(gray, blur)
            diff = int((blurred != mine).sum())
            assert diff == 0, f'GaussianBlur sigma {blur}: {diff} pixels differ from the integer form'
            gray = blurred
        cv2.setNumThreads(1)
        e1 = cv2.Canny(gray, low, high, apertureSize=3, L2gradient=False)
        cv2.setNumThreads(4)
        e4 = cv2.Canny(gray, low, high, apertureSize=3, L2gradient=False)
        assert np.array_equal(e1, e4), 'Canny differs between 1 and 4 threads'
        out = f'{image}_canny_{low}_{high}' + (f'_blur{blur}' if blur else '') + '.png'
        cv2.imwrite(os.path.join(OUT, out), e1)
        manifest['cases'].append({
            'image': image + '.png', 'low': low, 'high': high, 'blur': blur, 'edges': out,
            'edge_pixels': int((e1 > 0).sum()),
            'gaussian_kernel_fixed8': gauss_kernel_fixed(blur) if blur else None,
        })
        print(out, int((e1 > 0).sum()), 'edge pixels')
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
