#!/usr/bin/env bash
# Installs, with Debian's apt-get, what `npm test` needs beyond node_modules (npm run setup:test):
# - python3-torch, python3-torchvision (0.14.1 on Debian): the numerical reference of the parity tests
# - python3-onnx: the reference scripts that export or read ONNX files
# - libopenblas0-pthread: without it Debian's torch uses the reference BLAS (about 10x slower)
# - chromium: runs the browser entry point (WASM, and WebGPU on SwiftShader) under playwright-core
# - cython3, gcc, python3-dev, python3-numpy: build pycocotools (not in Debian) from the vendored
#   cocodataset/cocoapi source in third_party/cocoapi (tools/build-pycocotools.sh, run at the end)
# - parallel: GNU parallel, which a test runs concurrent CLI processes with
# Idempotent: installs nothing when all are installed, and the pycocotools build is skipped when
# already built. Runs apt-get as root, or through sudo.
# `npm run test:unit` needs none of these.
set -euo pipefail

need=(python3-torch python3-torchvision python3-onnx libopenblas0-pthread chromium cython3 gcc python3-dev python3-numpy parallel)

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

missing=()
for p in "${need[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-test-deps: all present (${need[*]})"
  exec bash "$(dirname "$0")/build-pycocotools.sh"
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-deps: apt-get not found; install these with your system's package manager: ${missing[*]}" >&2
  echo "  (the tests need torchvision 0.14.1, onnx, an optimised BLAS for torch, chromium, GNU parallel," >&2
  echo "  and cython3, gcc, python3 headers and numpy to build pycocotools: tools/build-pycocotools.sh)" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup-test-deps: need root to install ${missing[*]}: run as root, or install sudo" >&2
  exit 1
fi

echo "setup-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "+ ${as_root[*]:+${as_root[*]} }apt-get update -qq"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
echo "+ ${as_root[*]:+${as_root[*]} }apt-get install -y -qq ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"

still=()
for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
if [ ${#still[@]} -gt 0 ]; then
  echo "setup-test-deps: still missing after apt-get: ${still[*]}" >&2
  exit 1
fi
echo "setup-test-deps: installed ${missing[*]}"
exec bash "$(dirname "$0")/build-pycocotools.sh"
