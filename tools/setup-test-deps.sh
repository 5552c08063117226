#!/usr/bin/env bash
# Installs, with Debian's apt-get, what `npm test` needs beyond node_modules (npm run setup:test):
# - python3-torch, python3-torchvision (0.14.1 on Debian): the numerical reference of the parity tests
# - python3-onnx: the reference scripts that export or read ONNX files
# - libopenblas0-pthread: without it Debian's torch uses the reference BLAS (about 10x slower)
# - chromium: runs the browser entry point (WASM, and WebGPU on SwiftShader) under playwright-core
# Idempotent: does nothing when all are installed. Runs apt-get as root, or through sudo.
# `npm run test:unit` needs none of these.
set -euo pipefail

need=(python3-torch python3-torchvision python3-onnx libopenblas0-pthread chromium)

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

missing=()
for p in "${need[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-test-deps: all present (${need[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-deps: apt-get not found; install these with your system's package manager: ${missing[*]}" >&2
  echo "  (the tests need torchvision 0.14.1, onnx, an optimised BLAS for torch, and chromium)" >&2
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
