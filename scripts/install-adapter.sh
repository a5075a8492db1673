#!/usr/bin/env bash
# Installs a software WebGPU adapter for machines without a GPU (CI, laptops without drivers):
# Mesa 25 lavapipe from Debian bookworm-backports, unpacked into a user cache without touching the
# system's Mesa. Needs the Vulkan loader (libvulkan1); installs it with apt when run as root.
#   bash scripts/install-adapter.sh            # lavapipe into ~/.cache/robotseg-webgpu/lavapipe
#   ROBOTSEG_ADAPTER_CACHE=/dir bash scripts/install-adapter.sh
set -euo pipefail
CACHE="${ROBOTSEG_ADAPTER_CACHE:-$HOME/.cache/robotseg-webgpu}"
DEST="$CACHE/lavapipe"
if [ -f "$DEST/lvp_icd.json" ] && [ -f "$DEST/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ]; then
  echo "lavapipe already installed in $DEST"
else
  command -v apt-get >/dev/null || { echo "install-adapter: needs apt-get (Debian/Ubuntu). Install Mesa >= 23 mesa-vulkan-drivers by other means." >&2; exit 1; }
  STATE="$(mktemp -d)"
  trap 'rm -rf "$STATE"' EXIT
  mkdir -p "$STATE/lists/partial" "$STATE/archives/partial"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-backports main" > "$STATE/sources.list"
  APT=(-o "Dir::Etc::SourceList=$STATE/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache::Archives=$STATE/archives" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" update -qq
  (cd "$STATE" && apt-get "${APT[@]}" download mesa-vulkan-drivers/bookworm-backports -qq)
  mkdir -p "$DEST"
  dpkg-deb -x "$STATE"/mesa-vulkan-drivers_*.deb "$DEST"
  LIB="$DEST/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
  [ -f "$LIB" ] || LIB="$(find "$DEST" -name libvulkan_lvp.so | head -n1)"
  API="$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$DEST/usr/share/vulkan/icd.d/lvp_icd.json")"
  cat > "$DEST/lvp_icd.json" <<JSON
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$LIB", "api_version": "${API:-1.3.0}" } }
JSON
  echo "lavapipe installed: $DEST/lvp_icd.json"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq libvulkan1 >/dev/null
  else
    echo "install-adapter: the Vulkan loader is missing; run: sudo apt-get install libvulkan1" >&2
    exit 1
  fi
fi
# lavapipe links against bookworm's libLLVM-15; make sure it resolves.
if ldd "$DEST"/usr/lib/*/libvulkan_lvp.so | grep -q 'not found'; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq $(ldd "$DEST"/usr/lib/*/libvulkan_lvp.so | awk '/not found/{print $1}' | sed 's/\.so.*//' | sed 's/^lib//' | sed 's/^LLVM-15$/libllvm15/;s/^drm$/libdrm2/' ) >/dev/null || true
  fi
  ldd "$DEST"/usr/lib/*/libvulkan_lvp.so | grep 'not found' && { echo "install-adapter: lavapipe has unresolved libraries (above)" >&2; exit 1; }
fi
echo "software adapter ready"
