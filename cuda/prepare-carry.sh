#!/bin/sh
# Prepares, on the Debian 12 development machine, what cuda/gpu-check.sh needs on a GPU machine
# that has no registries and no autotools: a `make dist` tarball of the current tree and the
# Debian packages to build it, in the git-ignored folder .device-carry/ (default). Run from a
# configured build tree at the repository root; then, on the GPU machine:
#
#   GPU_CHECK_MODELS=.device-carry/models/resnet18-fashion-mnist.onnx \
#       sh cuda/gpu-check.sh .device-carry/axmul-*.tar.gz .device-carry /tmp/gc 90
#   tar czf "$OUT/gc.tgz" -C /tmp gc
set -eu
dir=${1:-.device-carry}
[ -f Makefile ] || { echo "prepare-carry.sh: run ./configure first (no Makefile here)" >&2; exit 2; }
mkdir -p "$dir"
rm -f "$dir"/axmul-*.tar.gz
make dist > /dev/null
cp axmul-*.tar.gz "$dir"/
(cd "$dir" && apt-get download libpng-dev libpng16-16 zlib1g zlib1g-dev libjansson-dev libjansson4 \
    libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev libgfortran5 \
    libquadmath0 check libsubunit-dev libsubunit0 pkgconf pkgconf-bin libpkgconf3 \
    dataset-fashion-mnist libprotobuf-c-dev libprotobuf-c1 protobuf-c-compiler libprotobuf32 \
    libprotoc32 libonnx-dev > /dev/null)
# The whole-network benchmark's ResNet-18-style network (GPU_CHECK_MODELS), trained briefly with
# Debian's python3-torch where it is installed (about a minute on two cores)
resnet="$dir/models/resnet18-fashion-mnist.onnx"
if [ ! -f "$resnet" ] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    mkdir -p "$dir/models"
    /usr/bin/python3 models/make-onnx-model.py . 600 resnet "$resnet" > /dev/null
fi
du -sh "$dir"
ls "$dir"
