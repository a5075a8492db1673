#!/usr/bin/env bash
# Fetch the official SAM 2.1 Hiera-tiny checkpoint into weights/ and convert it to safetensors
# (with the sam2.1_hiera_t config embedded, so `robotseg segment --weights` needs no --config).
# Offline, or when the download fails, it prints where to get the file and how to convert it, and
# exits with status 1. Re-running is cheap: existing files are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

URL=https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt
PT=weights/sam2.1_hiera_tiny.pt
ST=weights/sam2.1_hiera_tiny.safetensors
CONVERT="npx robotseg convert $PT $ST --config sam2.1_hiera_t"

mkdir -p weights
if [ -s "$ST" ]; then
  echo "get-weights: $ST is already there"
  exit 0
fi

if [ ! -s "$PT" ]; then
  echo "get-weights: downloading $URL (about 156 MB)" >&2
  ok=0
  if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 2 --connect-timeout 20 -o "$PT.partial" "$URL" && ok=1
  elif command -v wget >/dev/null 2>&1; then
    wget -q --tries=2 --timeout=20 -O "$PT.partial" "$URL" && ok=1
  fi
  if [ "$ok" != 1 ]; then
    rm -f "$PT.partial"
    cat >&2 <<MSG
get-weights: could not download the checkpoint (offline, or no curl/wget).
  1. On a machine with internet access, download
       $URL
     (the official SAM 2.1 Hiera-tiny checkpoint, Apache-2.0; also fetched by checkpoints/download_ckpts.sh
     in https://github.com/facebookresearch/sam2)
  2. Copy it to $(pwd)/$PT
  3. Convert it (or simply run this script again):
       $CONVERT
     (robotseg segment also reads the .pt directly: --weights $PT)
MSG
    exit 1
  fi
  mv "$PT.partial" "$PT"
fi

echo "get-weights: $CONVERT" >&2
node bin/robotseg.js convert "$PT" "$ST" --config sam2.1_hiera_t
