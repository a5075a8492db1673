#!/usr/bin/env bash
# robotseg-gpu/gpu-check.sh [--software] OUT_DIR: the one-command GPU check, run from the folder that
# bench/gpu-pack.sh's archive unpacks into (see docs/gpu-check.md). Needs only bash, coreutils and tar
# (dpkg-deb, or ar + xz, when the machine has no Vulkan loader): Node, the engine, its node_modules,
# the kernel tests and Debian's libvulkan1 travel in the archive.
#   1. the Vulkan loader: the system's libvulkan.so.1, else the archive's libvulkan1 .deb unpacked;
#   2. hardware mode: the NVIDIA Vulkan ICD file, found in the usual folders (CUDA images often have none
#      on the default search path) or written next to OUT_DIR pointing at libGLX_nvidia.so.0 (or
#      libEGL_nvidia.so.0); --software: the software adapter (lavapipe) the machine has;
#   3. app/dist/bench/gpu_check/driver.js runs the steps within the 9-minute budget and writes
#      info.json, kernels.json, frame.json, stages.json and summary.json to OUT_DIR.
# Exit codes (a one-line reason on stderr for each non-zero one):
#   0 every step passed   1 a step failed (results written)   2 usage   3 no Vulkan loader
#   4 no NVIDIA Vulkan driver (ICD file or library)   5 no WebGPU device appeared
#   6 out of time (partial results written)   7 the archive is incomplete, or its Node or Dawn does not run here
# Environment: GPU_CHECK_BUDGET_S (default 540: the whole run), GPU_CHECK_BUNDLED_LOADER=1 (use the
# archive's libvulkan even when the system has one), VK_DRIVER_FILES / VK_ICD_FILENAMES (used as given).
set -u
START=$(date +%s)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() {
  local code=$1
  shift
  echo "gpu-check: $*" >&2
  exit "$code"
}

MODE=hardware
if [ "${1:-}" = --software ]; then
  MODE=software
  shift
fi
if [ $# -ne 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
  die 2 "usage: bash robotseg-gpu/gpu-check.sh [--software] OUT_DIR"
fi
OUT=$1
mkdir -p "$OUT" 2>/dev/null || die 2 "cannot create OUT_DIR '$OUT'"
[ -w "$OUT" ] || die 2 "OUT_DIR '$OUT' is not writable"
OUT="$(cd "$OUT" && pwd)"
BUDGET=${GPU_CHECK_BUDGET_S:-540}
case "$BUDGET" in '' | *[!0-9]*) die 2 "GPU_CHECK_BUDGET_S must be a whole number of seconds, got '$BUDGET'" ;; esac

NODE="$HERE/node/bin/node"
DRIVER="$HERE/app/dist/bench/gpu_check/driver.js"
[ -x "$NODE" ] && [ -f "$DRIVER" ] || die 7 "incomplete archive: $HERE has no node/bin/node or app/dist; unpack the whole archive"
"$NODE" -e 'process.exit(0)' >/dev/null 2>&1 || die 7 "the bundled Node ($NODE) does not run on this machine (needs Linux x64, glibc)"

# Dawn's linux-x64 binary needs glibc >= 2.34 and libstdc++ with GLIBCXX_3.4.30 (Ubuntu 22.04, Debian 12 or newer)
DAWN_ERR=$(cd "$HERE/app" && "$NODE" --input-type=module -e 'await import("webgpu")' 2>&1) ||
  die 7 "Dawn (the webgpu package) does not load here (needs glibc >= 2.34, GLIBCXX_3.4.30: Ubuntu 22.04 / Debian 12 or newer): $(echo "$DAWN_ERR" | grep -m 1 -E 'Error|error' | cut -c1-300)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/robotseg-gpu-check.XXXXXX")" || die 2 "cannot create a temporary folder"
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------------------- 1. the Vulkan loader
LIBDIRS="/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib"
find_lib() { # NAME -> path of the first copy in LD_LIBRARY_PATH, the usual folders or ldconfig's cache
  local d
  for d in $(echo "${LD_LIBRARY_PATH:-}" | tr ':' ' ') $LIBDIRS; do
    [ -e "$d/$1" ] && {
      echo "$d/$1"
      return 0
    }
  done
  if command -v ldconfig >/dev/null 2>&1; then
    ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }' | grep . && return 0
  fi
  return 1
}
if [ "${GPU_CHECK_BUNDLED_LOADER:-}" = 1 ] || ! find_lib libvulkan.so.1 >/dev/null; then
  DEB=$(ls "$HERE"/vulkan/libvulkan1_*.deb 2>/dev/null | head -n 1)
  [ -n "$DEB" ] || die 3 "no Vulkan loader: libvulkan.so.1 is not installed and the archive has no libvulkan1 .deb"
  mkdir -p "$WORK/vulkan"
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$DEB" "$WORK/vulkan" || die 3 "no Vulkan loader: dpkg-deb could not unpack $DEB"
  elif command -v ar >/dev/null 2>&1; then
    (cd "$WORK/vulkan" && ar x "$DEB" && tar -xf data.tar.* 2>/dev/null) || die 3 "no Vulkan loader: could not unpack $DEB with ar + tar"
  else
    die 3 "no Vulkan loader: libvulkan.so.1 is not installed and neither dpkg-deb nor ar is here to unpack $DEB"
  fi
  LOADER_DIR=$(dirname "$(find "$WORK/vulkan" -name 'libvulkan.so.1' | head -n 1)")
  [ -e "$LOADER_DIR/libvulkan.so.1" ] || die 3 "no Vulkan loader: $DEB holds no libvulkan.so.1"
  export LD_LIBRARY_PATH="$LOADER_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "gpu-check: Vulkan loader from the archive ($(basename "$DEB"))" >&2
else
  echo "gpu-check: Vulkan loader $(find_lib libvulkan.so.1)" >&2
fi

# ------------------------------------------------------------------------------------ 2. the driver
icd_lib_ok() { # ICD_JSON -> 0 when its library_path resolves
  local lib
  lib=$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1)
  [ -n "$lib" ] || return 1
  case "$lib" in
    /*) [ -e "$lib" ] ;;
    */*) [ -e "$(dirname "$1")/$lib" ] ;;
    *) find_lib "$lib" >/dev/null ;;
  esac
}
if [ "$MODE" = hardware ]; then
  [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
  ICD=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}
  if [ -z "$ICD" ]; then
    for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d \
      /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/vulkan/icd.d /usr/local/etc/vulkan/icd.d; do
      for f in "$d"/nvidia_icd*.json "$d"/nvidia*.json; do
        case "$f" in *vksc*) continue ;; esac
        if [ -f "$f" ] && icd_lib_ok "$f"; then
          ICD=$f
          break 2
        fi
      done
    done
  fi
  if [ -z "$ICD" ]; then
    LIB=$(find_lib libGLX_nvidia.so.0 || find_lib libEGL_nvidia.so.0) ||
      die 4 "no NVIDIA Vulkan driver: no nvidia_icd.json in the Vulkan ICD folders and no libGLX_nvidia.so.0 / libEGL_nvidia.so.0 (in a container, set NVIDIA_DRIVER_CAPABILITIES=all or include 'graphics')"
    ICD="$WORK/nvidia_icd.json"
    printf '{\n  "file_format_version": "1.0.1",\n  "ICD": { "library_path": "%s", "api_version": "1.3.0" }\n}\n' "$LIB" >"$ICD"
    echo "gpu-check: wrote a Vulkan ICD file for $LIB" >&2
  else
    echo "gpu-check: Vulkan ICD $ICD" >&2
  fi
  find_lib libnvidia-glvkspirv.so.1 >/dev/null || ls /usr/lib/x86_64-linux-gnu/libnvidia-glvkspirv.so.* >/dev/null 2>&1 ||
    echo "gpu-check: note: libnvidia-glvkspirv.so.* (the driver's SPIR-V compiler) was not found; Vulkan may fail to create a device" >&2
  # the engine takes VK_ICD_FILENAMES as given (ROBOTSEG_ADAPTER would search the ICD folders instead)
  export VK_ICD_FILENAMES="$ICD" VK_DRIVER_FILES="$ICD"
  unset ROBOTSEG_ADAPTER
else
  export ROBOTSEG_ADAPTER=${ROBOTSEG_ADAPTER:-lavapipe}
fi

# ------------------------------------------------------------------------------------- 3. the steps
LEFT=$((BUDGET - ($(date +%s) - START) - 15))
[ "$LEFT" -gt 30 ] || die 6 "out of time before the first step (GPU_CHECK_BUDGET_S=$BUDGET)"
export XDG_RUNTIME_DIR="$WORK"
timeout -k 5 $((LEFT + 10)) "$NODE" "$DRIVER" --mode "$MODE" --out "$OUT" --root "$HERE" --budget "$LEFT"
rc=$?
case $rc in
  0) echo "gpu-check: all steps passed; results in $OUT" >&2 ;;
  1) echo "gpu-check: some checks failed (see $OUT/summary.json)" >&2 ;;
  5) die 5 "no WebGPU device appeared (Vulkan found no usable $MODE adapter; see the lines above)" ;;
  6 | 124 | 137) die 6 "out of time after $(($(date +%s) - START)) s; partial results in $OUT" ;;
  *) die 1 "the check stopped with exit code $rc; partial results in $OUT" ;;
esac
exit "$rc"
