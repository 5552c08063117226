#!/usr/bin/env bash
# Builds pycocotools (cocodataset/cocoapi's PythonAPI and common/maskApi.c, vendored unmodified in
# third_party/cocoapi) into .cache/pycocotools, for the tests that check our COCO files with the
# real `COCO()` (test/helpers/pycocotools.ts). pycocotools is not in Debian; this builds it with
# Debian's cython3, gcc, python3-dev and python3-numpy (tools/setup-test-deps.sh installs them and
# runs this at its end), against /usr/bin/python3 (or $RESDET_PYTHON), the python the tests use.
#
# Only the build copy is patched, so it runs on today's numpy and without matplotlib:
# - coco.py imports matplotlib at the top for showAnns only: the import is made optional;
# - cocoeval.py's np.float (removed in numpy 1.24) becomes np.float64, the same dtype.
#
# Idempotent and fast when built: the build is keyed by a hash of the vendored sources, this
# script and the python and numpy versions (.cache/pycocotools/BUILD_KEY); with the key
# unchanged it only checks that the module imports. Built in a temporary folder, then renamed.
#
# usage: bash tools/build-pycocotools.sh [out-dir]   (default <repo>/.cache/pycocotools)
# then:  PYTHONPATH=<out-dir> python3 -c 'from pycocotools.coco import COCO'
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/third_party/cocoapi"
out="${1:-$root/.cache/pycocotools}"
python="${RESDET_PYTHON:-/usr/bin/python3}"
[ -x "$python" ] || python=python3

fail() { echo "build-pycocotools: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 || fail "no python ($python); install python3 (apt-get install python3)"
command -v cython3 >/dev/null 2>&1 || fail "cython3 not found; install Debian's cython3 (apt-get install cython3, or npm run setup:test)"
command -v gcc >/dev/null 2>&1 || fail "gcc not found; install it (apt-get install gcc, or npm run setup:test)"
read -r py_include ext_suffix py_version < <("$python" -c 'import sys, sysconfig; print(sysconfig.get_paths()["include"], sysconfig.get_config_var("EXT_SUFFIX"), sys.version.split()[0])')
[ -f "$py_include/Python.h" ] || fail "no $py_include/Python.h; install python3-dev (apt-get install python3-dev)"
read -r np_include np_version < <("$python" -c 'import numpy; print(numpy.get_include(), numpy.__version__)' 2>/dev/null) \
  || fail "$python cannot import numpy; install python3-numpy (apt-get install python3-numpy)"

files=(PythonAPI/pycocotools/__init__.py PythonAPI/pycocotools/coco.py PythonAPI/pycocotools/mask.py
       PythonAPI/pycocotools/cocoeval.py PythonAPI/pycocotools/_mask.pyx common/maskApi.c common/maskApi.h)
for f in "${files[@]}"; do [ -f "$src/$f" ] || fail "missing $src/$f (the vendored cocoapi source)"; done
key="$( { cat "$0"; for f in "${files[@]}"; do cat "$src/$f"; done; echo "$python $py_version numpy $np_version $(cython3 --version 2>&1)"; } | sha256sum | cut -c1-16)"

imports() { PYTHONPATH="$1" "$python" -c 'from pycocotools.coco import COCO; from pycocotools import mask; from pycocotools.cocoeval import COCOeval' 2>&1; }

if [ "$(cat "$out/BUILD_KEY" 2>/dev/null)" = "$key" ] && imports "$out" >/dev/null; then
  echo "build-pycocotools: already built in $out ($key)"
  exit 0
fi

echo "build-pycocotools: building $out from third_party/cocoapi ($python $py_version, numpy $np_version, $(cython3 --version 2>&1))"
tmp="$out.tmp-$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp/pycocotools" "$tmp/build"
cp "$src"/PythonAPI/pycocotools/{__init__,coco,mask,cocoeval}.py "$tmp/pycocotools/"
cp "$src/PythonAPI/pycocotools/_mask.pyx" "$src/common/maskApi.c" "$src/common/maskApi.h" "$tmp/build/"

# The two patches of the build copy; each must apply exactly, or the build stops.
"$python" - "$tmp/pycocotools" <<'EOF'
import sys
d = sys.argv[1]
def patch(name, old, new, count):
    path = f'{d}/{name}'
    text = open(path).read()
    if text.count(old) != count:
        sys.exit(f'build-pycocotools: {name}: expected {count} of {old!r}, found {text.count(old)}')
    open(path, 'w').write(text.replace(old, new))
patch('coco.py',
      'import matplotlib.pyplot as plt\nfrom matplotlib.collections import PatchCollection\nfrom matplotlib.patches import Polygon\n',
      'try:  # resdet build: matplotlib is only used by showAnns\n'
      '    import matplotlib.pyplot as plt\n    from matplotlib.collections import PatchCollection\n    from matplotlib.patches import Polygon\n'
      'except ImportError:\n    plt = PatchCollection = Polygon = None\n', 1)
patch('cocoeval.py', 'astype(dtype=np.float)', 'astype(dtype=np.float64)', 2)
EOF

# What `python setup.py build_ext` does (PythonAPI/setup.py), without setuptools: cython, then one
# shared object from the generated C and maskApi.c with setup.py's flags. language_level 2 is the
# default of the Cython releases cocoapi was written for (cython3 0.29 warns when it is unset).
cython3 -2 -o "$tmp/build/_mask.c" "$tmp/build/_mask.pyx"
gcc -shared -fPIC -O2 -std=c99 -Wno-cpp -Wno-unused-function \
  -I"$np_include" -I"$py_include" -I"$tmp/build" \
  "$tmp/build/maskApi.c" "$tmp/build/_mask.c" -o "$tmp/pycocotools/_mask$ext_suffix"
rm -rf "$tmp/build"
err="$(imports "$tmp")" || fail "the built pycocotools does not import: $err"
echo "$key" > "$tmp/BUILD_KEY"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT
echo "build-pycocotools: built $out ($key); use PYTHONPATH=$out"
