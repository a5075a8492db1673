#!/usr/bin/env bash
# bench/gpu-pack.sh ARCHIVE: build the one-command GPU check (docs/gpu-check.md) on a networked Linux x64
# machine with the repository's node_modules installed (npm ci). ARCHIVE (.tar.xz, at most 60 MB) unpacks
# into one folder, robotseg-gpu/:
#   gpu-check.sh          the check (bench/gpu-check.sh)
#   node/bin/node         the running Node binary (process.execPath)
#   app/                  the built engine (npm run build: package.json, bin/, dist/, shaders/) and the
#                         node_modules it needs (runtime dependencies + vitest), other platforms' Dawn
#                         binaries, declarations and source maps stripped
#   tests/                the kernel tests as TypeScript (src/, shaders/, test/kernels, test/ref,
#                         test/helpers, the fixtures they read), run by vitest; node_modules -> ../app
#   vulkan/               Debian's libvulkan1 package (apt-get download; GPU_PACK_LIBVULKAN_DEB=FILE
#                         gives one instead)
#   reduced_config.json   the reduced 256-px config of --software runs
# Set GPU_PACK_SKIP_BUILD=1 to reuse an existing dist/ (it must be from the same sources).
set -euo pipefail
die() {
  echo "gpu-pack: $*" >&2
  exit 2
}
[ $# -eq 1 ] && [ -n "$1" ] || die "usage: bash bench/gpu-pack.sh ARCHIVE (.tar.xz)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCHIVE=$1
case "$ARCHIVE" in /*) ;; *) ARCHIVE="$PWD/$ARCHIVE" ;; esac
[ -d "$(dirname "$ARCHIVE")" ] || die "the folder of '$1' does not exist"
LIMIT=$((60 * 1000 * 1000))

cd "$ROOT"
[ "$(node -p 'process.platform + "-" + process.arch')" = linux-x64 ] || die "run this on Linux x64 (the GPU machine's platform)"
[ -d node_modules/vitest ] && [ -d node_modules/webgpu ] || die "node_modules is missing: run npm ci first"
if [ "${GPU_PACK_SKIP_BUILD:-}" != 1 ] || [ ! -f dist/bench/gpu_check/driver.js ]; then
  node scripts/build.mjs >&2
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/robotseg-gpu-pack.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
S="$TMP/robotseg-gpu"
mkdir -p "$S/node/bin" "$S/app" "$S/tests/test/fixtures/golden" "$S/vulkan"

# Node: the one running this script
cp "$(node -p process.execPath)" "$S/node/bin/node"

# the built engine
cp -r package.json bin dist shaders "$S/app/"
find "$S/app/dist" \( -name '*.map' -o -name '*.d.ts' \) -delete

# node_modules: runtime dependencies and vitest with everything they need, this platform only
node bench/gpu_check/deps.mjs "$ROOT" vitest >"$TMP/deps.txt"
while read -r d; do
  mkdir -p "$S/app/$(dirname "$d")"
  cp -r "$d" "$S/app/$d"
done <"$TMP/deps.txt"
for p in "$S"/app/node_modules/webgpu/dist/*; do
  [ "$(basename "$p")" = linux-x64 ] || rm -rf "$p"
done
rm -rf "$S/app/node_modules/webgpu/build" "$S/app/node_modules/@types"
find "$S/app/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# the kernel tests (TypeScript, as in the checkout; loss_golden needs the 27 MB training goldens: left out)
cp -r src shaders "$S/tests/"
mkdir -p "$S/tests/test/eval"
cp -r test/kernels test/ref test/helpers "$S/tests/test/"
rm -f "$S/tests/test/kernels/loss_golden.test.ts"
cp test/eval/helpers.ts "$S/tests/test/eval/"
cp -r test/fixtures/canny test/fixtures/guided_filter test/fixtures/pil_resize test/fixtures/resize_golden.safetensors \
  "$S/tests/test/fixtures/"
cp test/fixtures/golden/config.json "$S/tests/test/fixtures/golden/"
cp package.json "$S/tests/package.json" # name 'robotseg': the package root the sources look for
cp bench/gpu_check/vitest.config.mjs bench/gpu_check/reporter.mjs "$S/tests/"
ln -s ../app/node_modules "$S/tests/node_modules"
cp test/fixtures/golden/config.json "$S/reduced_config.json"

# Debian's Vulkan loader
if [ -n "${GPU_PACK_LIBVULKAN_DEB:-}" ]; then
  cp "$GPU_PACK_LIBVULKAN_DEB" "$S/vulkan/"
else
  (cd "$S/vulkan" && apt-get download libvulkan1 >/dev/null 2>"$TMP/apt.log") ||
    die "apt-get download libvulkan1 failed ($(tail -n 1 "$TMP/apt.log")); run apt-get update, or set GPU_PACK_LIBVULKAN_DEB=FILE"
fi
ls "$S"/vulkan/libvulkan1_*.deb >/dev/null 2>&1 || die "no libvulkan1_*.deb in the archive's vulkan/ folder"

cp bench/gpu-check.sh "$S/gpu-check.sh"
chmod +x "$S/gpu-check.sh" "$S/node/bin/node"
{
  echo "robotseg $(node -p 'require("./package.json").version') GPU check"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node: $(node -v)"
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "run: tar -xf ARCHIVE && bash robotseg-gpu/gpu-check.sh OUT_DIR   (docs/gpu-check.md)"
} >"$S/VERSION.txt"

tar -C "$TMP" -cf - robotseg-gpu | xz -T0 -6 >"$ARCHIVE.partial"
SIZE=$(stat -c %s "$ARCHIVE.partial")
if [ "$SIZE" -gt "$LIMIT" ]; then
  rm -f "$ARCHIVE.partial"
  die "the archive is $SIZE bytes, over the 60 MB limit"
fi
mv "$ARCHIVE.partial" "$ARCHIVE"
echo "gpu-pack: $ARCHIVE ($SIZE bytes)" >&2
