# Writes test/fixtures/guided_filter/cases.safetensors: RobotSeg's guided-filter mask refinement
# (guided_refine_mask in the RobotSeg fork's test/utils.py, commit d2f1c90d) run by real OpenCV on a
# few inputs, with its intermediates, for test/kernels/guided_filter.test.ts.
#
#   /usr/bin/python3 scripts/make_guided_filter_fixture.py
#
# Needs Debian's python3-opencv (apt-get install python3-opencv; 4.6.0+dfsg-12 on bookworm, whose
# cv2 includes the opencv_contrib ximgproc module) and its numpy, so run it with /usr/bin/python3.
# The procedure below is written out step by step exactly as guided_refine_mask does it (same calls,
# same dtypes), recording each intermediate. Per case <c>, tensors:
#   <c>.rgb   U8 [H, W, 3]  the frame, RGB order (the function gets it as BGR, cv2.imread's order)
#   <c>.mask  U8 [H, W]     the input mask, 0/255
#   <c>.gray  U8 [H, W]     cv2.cvtColor(BGR2GRAY)
#   <c>.gf3, <c>.gf7  F32   cv2.ximgproc.guidedFilter(gray/255, mask/255, r, 1e-3), r = 3, 7
#   <c>.dist  F32           cv2.distanceTransform(mask > 0, DIST_L2, 5)
#   <c>.thick F32           cv2.dilate(dist, 15x15)
#   <c>.band  U8            dilate(7x7) - erode(7x7) > 0
#   <c>.soft  F32           (1 - alpha) * gf3 + alpha * gf7, alpha = clip((thick - 2) / 4, 0, 1)
#   <c>.out   U8            the returned mask (0/255): band pixels from soft > 0.5, or the input mask
#                           when the area changes by more than 3 %
# Inputs: 'clip' = frame 00002 of test/fixtures/video_clip (decoded by cv2) with the clip's robot
# mask (test/fixtures/eval/clip/gt/00002.png, 4x4-majority downscaled) shifted by 1 pixel right and down;
# 'reject' = the same frame with a mask of thin stripes (the refinement changes the area by more
# than 3 %, so the input comes back); 'tiny' (9x5) and 'edge' (37x23): seeded random smooth images
# with masks touching the border, smaller than the 15x15 window (multiple border reflections).
import json, os, struct, zlib
import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'guided_filter', 'cases.safetensors')


def read_png_indices(path):
    """8-bit gray or palette PNG -> the stored values (palette index), as np.array(Image.open(p))."""
    data = open(path, 'rb').read()
    pos, idat = 8, b''
    while pos < len(data):
        n, = struct.unpack('>I', data[pos:pos + 4]); t = data[pos + 4:pos + 8]; c = data[pos + 8:pos + 8 + n]
        if t == b'IHDR':
            w, h, depth, ctype, _, _, inter = struct.unpack('>IIBBBBB', c)
            assert depth == 8 and ctype in (0, 3) and inter == 0
        elif t == b'IDAT':
            idat += c
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w + 1)
    out = np.zeros((h, w), np.int32)
    prev = np.zeros(w, np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        cur = np.zeros(w, np.int32)
        for x in range(w):
            a = cur[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 0: v = line[x]
            elif f == 1: v = line[x] + a
            elif f == 2: v = line[x] + b
            elif f == 3: v = line[x] + (a + b) // 2
            else:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                v = line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)
            cur[x] = v & 255
        out[y] = cur; prev = cur
    return out


def refine(mask, image):
    """guided_refine_mask with every intermediate recorded (same calls, parameters and dtypes)."""
    small_radius, large_radius, eps, band_width, thick_thresh, area_change_thresh = 3, 7, 1e-3, 3, 6.0, 0.03
    rec = {}
    mask_uint8 = mask.astype(np.uint8)
    if mask_uint8.max() <= 1:
        mask_uint8 = mask_uint8 * 255
    assert np.count_nonzero(mask_uint8) > 0
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    rec['gray'] = gray
    guide = gray.astype(np.float32) / 255.0
    src = mask_uint8.astype(np.float32) / 255.0
    refined_small = cv2.ximgproc.guidedFilter(guide=guide, src=src, radius=small_radius, eps=eps)
    refined_large = cv2.ximgproc.guidedFilter(guide=guide, src=src, radius=large_radius, eps=eps)
    rec['gf3'], rec['gf7'] = refined_small, refined_large
    k = 2 * band_width + 1
    kernel = np.ones((k, k), np.uint8)
    dilated = cv2.dilate(mask_uint8, kernel, iterations=1)
    eroded = cv2.erode(mask_uint8, kernel, iterations=1)
    boundary_band = cv2.subtract(dilated, eroded) > 0
    rec['band'] = boundary_band.astype(np.uint8)
    binary_fg = (mask_uint8 > 0).astype(np.uint8)
    dist_map = cv2.distanceTransform(binary_fg, cv2.DIST_L2, 5)
    rec['dist'] = dist_map
    local_ksize = max(3, 2 * large_radius + 1)
    local_thickness = cv2.dilate(dist_map, np.ones((local_ksize, local_ksize), np.uint8), iterations=1)
    rec['thick'] = local_thickness
    alpha = np.clip((local_thickness - 2.0) / max(thick_thresh - 2.0, 1e-6), 0.0, 1.0)
    refined_soft = (1.0 - alpha) * refined_small + alpha * refined_large
    assert refined_soft.dtype == np.float32
    rec['soft'] = refined_soft
    refined_bin = (refined_soft > 0.5).astype(np.uint8) * 255
    final_mask = mask_uint8.copy()
    final_mask[boundary_band] = refined_bin[boundary_band]
    orig_area = np.count_nonzero(mask_uint8)
    new_area = np.count_nonzero(final_mask)
    rel_change = abs(new_area - orig_area) / float(orig_area)
    rec['out'] = mask_uint8 if rel_change > area_change_thresh else final_mask
    rec['rel_change'] = rel_change
    return rec


def case_inputs():
    bgr = cv2.imread(os.path.join(ROOT, 'test', 'fixtures', 'video_clip', '00002.jpg'))
    assert bgr is not None and bgr.shape == (136, 240, 3)
    gt = read_png_indices(os.path.join(ROOT, 'test', 'fixtures', 'eval', 'clip', 'gt', '00002.png'))
    small = ((gt > 0).reshape(136, 4, 240, 4).sum(axis=(1, 3)) >= 8).astype(np.uint8)
    shifted = np.zeros_like(small)
    shifted[1:, 1:] = small[:-1, :-1]
    yield 'clip', bgr, shifted * 255
    stripes = np.zeros((136, 240), np.uint8)
    stripes[20:120, 30:200:9] = 255  # 1-pixel stripes: the filter erases much of them
    stripes[60:100, 100:160] = 255
    yield 'reject', bgr, stripes
    rng = np.random.default_rng(20240607)
    for name, (h, w) in (('tiny', (5, 9)), ('edge', (23, 37))):
        img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3), 1.0)
        yy, xx = np.mgrid[0:h, 0:w]
        m = (((yy - h * 0.3) ** 2 / (h * 0.5) ** 2 + (xx - w * 0.2) ** 2 / (w * 0.45) ** 2) < 1).astype(np.uint8) * 255
        m[rng.random((h, w)) < 0.05] ^= 255
        yield name, img, m


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.uint8): 'U8', np.dtype(np.float32): 'F32'}[a.dtype]
        b = a.tobytes()
        header[name] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b); off += len(b)
    header['__metadata__'] = {'opencv': cv2.__version__, 'script': 'scripts/make_guided_filter_fixture.py'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)


def main():
    tensors = []
    for name, bgr, mask in case_inputs():
        rec = refine(mask, bgr)
        changed = int(np.count_nonzero(rec['out'] != mask))
        print(f'{name}: {mask.shape[1]}x{mask.shape[0]}, area {np.count_nonzero(mask)}, change {rec["rel_change"]:.4f}, {changed} pixels changed')
        if name == 'clip': assert rec['rel_change'] <= 0.03 and changed > 0
        if name == 'reject': assert rec['rel_change'] > 0.03 and changed == 0
        tensors += [(f'{name}.rgb', bgr[:, :, ::-1]), (f'{name}.mask', mask)]
        keys = ('soft', 'out') if name == 'reject' else ('gray', 'gf3', 'gf7', 'dist', 'thick', 'band', 'soft', 'out')
        tensors += [(f'{name}.{k}', rec[k]) for k in keys]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, tensors)
    print('wrote', OUT, os.path.getsize(OUT), 'bytes')


if __name__ == '__main__':
    main()
