#!/bin/sh
# The one-command GPU check: on a machine with an NVIDIA GPU, nvcc and no registries or
# autotools, build axmul from its `make dist` tarball (with the Debian packages it needs unpacked
# under /tmp/deps, never into /), run the GPU tests and the GPU benchmark (LUT kernels against
# cuDNN's exact fp32 convolution when cuDNN is there), and write a log and JSON figures into
# OUT_DIR. Aimed at well under 8 minutes on an H100 (GPU_CHECK_CPU_BENCH=1 adds the host CPU's
# benchmark).
#
#   cuda/gpu-check.sh TARBALL DEBS_DIR OUT_DIR [SM]
#
# DEBS_DIR holds .deb files fetched on a Debian 12 machine, e.g.
#   apt-get download libpng-dev libpng16-16 zlib1g-dev libjansson-dev libjansson4 \
#       libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev \
#       libgfortran5 libquadmath0 check libsubunit-dev libsubunit0 pkgconf pkgconf-bin \
#       libpkgconf3 dataset-fashion-mnist
# SM (e.g. 90) restricts the fat binary to the local GPU to save build time; default: the
# configure default (75 80 86 89 90 + PTX).
set -eu
tarball=$(readlink -f "$1")
debs=$(readlink -f "$2")
out=$(mkdir -p "$3" && readlink -f "$3")
sm=${4:-}
log="$out/gpu-check.log"
: > "$log"
say() { echo "$*" | tee -a "$log"; }
t0=$(date +%s)

say "== gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv >> "$log" 2>&1 || true
nvcc --version | tail -2 >> "$log" 2>&1 || true

deps=/tmp/deps
rm -rf "$deps" /tmp/axmul-gpu-build
mkdir -p "$deps" /tmp/axmul-gpu-build
for d in "$debs"/*.deb; do dpkg -x "$d" "$deps"; done
# the unpacked .pc files still say prefix=/usr
for pc in $(find "$deps" -name '*.pc'); do
    sed -i "s|^prefix=/usr|prefix=$deps/usr|; s|=/usr/|=$deps/usr/|g" "$pc"
done
arch=$(uname -m)-linux-gnu
export PATH="$deps/usr/bin:$PATH"
# (OpenBLAS's .pc sits in its variant's folder: dpkg -x makes no alternatives links)
export PKG_CONFIG_PATH="$deps/usr/lib/$arch/pkgconfig:$deps/usr/lib/$arch/openblas-pthread/pkgconfig:$deps/usr/share/pkgconfig:$deps/usr/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$PKG_CONFIG_PATH"
export LD_LIBRARY_PATH="$deps/usr/lib/$arch:$deps/usr/lib/$arch/openblas-pthread:${LD_LIBRARY_PATH:-}"
export CPPFLAGS="-I$deps/usr/include -I$deps/usr/include/$arch"
export LDFLAGS="-L$deps/usr/lib/$arch -Wl,-rpath,$deps/usr/lib/$arch"

# cuDNN, the benchmark's exact fp32 baseline: next to CUDA, or else the Python wheel that PyTorch
# uses (nvidia-cudnn-cu13), whose library has no unversioned libcudnn.so link for the linker
nvcc_root=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
if [ ! -f "$nvcc_root/include/cudnn.h" ]; then
    cdir=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
    if [ -n "$cdir" ] && [ -f "$cdir/include/cudnn.h" ]; then
        mkdir -p "$deps/cudnn-lib"
        for so in "$cdir"/lib/libcudnn.so*; do ln -sf "$so" "$deps/cudnn-lib/libcudnn.so"; break; done
        export CPPFLAGS="$CPPFLAGS -I$cdir/include"
        export LDFLAGS="$LDFLAGS -L$deps/cudnn-lib -Wl,-rpath,$cdir/lib"
        export LD_LIBRARY_PATH="$cdir/lib:$LD_LIBRARY_PATH"
        say "cuDNN from $cdir"
    else
        say "no cuDNN found: the benchmark will have no exact GPU baseline"
    fi
fi

cd /tmp/axmul-gpu-build
tar xzf "$tarball"
cd axmul-*
archs=""
[ -n "$sm" ] && archs="--with-cuda-archs=$sm"
say "== configure"
./configure --with-cuda $archs >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
say "== build"
make -j"$(nproc)" >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
say "== GPU tests"
fixtures=""
set +e
make -j"$(nproc)" check TESTS="tests/check_cuda tests/check_cudakernel tests/check_conv tests/check_cpu tests/test_conv.sh" \
    >> "$log" 2>&1
rc=$?
set -e
cat tests/check_cuda.log >> "$log" 2>/dev/null || true
grep -E "^(PASS|FAIL|SKIP|ERROR):" tests/*.trs 2>/dev/null | tee -a "$log" || true
say "== GPU benchmark"
./conv/axconv-test bench --backend cuda --repeat 5 --format json > "$out/bench-cuda.json" 2>> "$log" || rc=1
say "== GPU benchmark, table through the read-only cache (the texture-like baseline)"
AXMUL_CUDA_TABLE=cached ./conv/axconv-test bench --backend cuda --repeat 5 --format json \
    > "$out/bench-cuda-cached.json" 2>> "$log" || rc=1
say "== GPU benchmark, expanded-table kernel (AXMUL_CUDA_TABLE=expanded)"
AXMUL_CUDA_TABLE=expanded ./conv/axconv-test bench --backend cuda --repeat 5 --format json \
    > "$out/bench-cuda-expanded.json" 2>> "$log" || rc=1
# A grouped layer (ResNeXt-50's first-stage 3x3: 32 groups of 4 channels), which the column
# kernel tiles across groups (modes 5-6 of cuda/kernel.h; the expanded kernel leaves it to the
# column kernel), with the table in shared memory and through the read-only cache.
for kind in shared cached; do
    say "== GPU benchmark, grouped 3x3 56x56x128 g32 b32 ($kind)"
    AXMUL_CUDA_TABLE=$kind ./conv/axconv-test bench --backend cuda --repeat 5 --format json \
        --shape 32,56,56,128 --kernel 3,3,128 --groups 32 > "$out/bench-cuda-grouped-$kind.json" \
        2>> "$log" || rc=1
done
if [ "${GPU_CHECK_CPU_BENCH:-0}" = 1 ]; then # the host CPU's figures: a minute more
    ./conv/axconv-test bench --backend cpu --repeat 3 --format json > "$out/bench-cpu.json" \
        2>> "$log" || true
fi
if [ -f "$deps/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz" ]; then
    for kind in shared expanded; do
        say "== LeNet-5, 10,000 Fashion-MNIST images, bundled tables, CUDA backend ($kind)"
        AXMUL_CUDA_TABLE=$kind ./conv/axconv-test net --model models/lenet5-fashion-mnist \
            --dataset "fashion-mnist:$deps/usr/share/datasets/fashion-mnist" --mtab-dir tables \
            --backend cuda --format json --quiet > "$out/net-cuda-$kind.json" 2>> "$log" || rc=1
    done
fi
if command -v ncu > /dev/null 2>&1; then
    # Where the LUT kernel's time goes (shared-memory bank conflicts, issue slots, occupancy) on
    # the benchmark's first CUDA shapes; needs access to the GPU's counters, else it says so.
    say "== ncu: the first LUT kernel launches of the CUDA benchmark"
    for kind in shared expanded; do
        AXMUL_CUDA_TABLE=$kind timeout 90 ncu --target-processes all \
            --kernel-name regex:lut_conv --launch-count 3 \
            --section SpeedOfLight --section Occupancy --section LaunchStats \
            --section SchedulerStats --section MemoryWorkloadAnalysis_Tables \
            ./conv/axconv-test bench --backend cuda --quick --repeat 1 > "$out/ncu-$kind.txt" 2>&1 ||
            true
        tail -60 "$out/ncu-$kind.txt" >> "$log"
    done
fi
# One table of the three table placements side by side (kernel time only), for the log and
# doc/performance.md: which kernel ran per shape, its LUT-MAC/s and its time over cuDNN's.
python3 - "$out" > "$out/summary.txt" 2>&1 << 'PY' || true
import json, os, sys
out = sys.argv[1]
runs = [("shared", "bench-cuda.json"), ("cached", "bench-cuda-cached.json"),
        ("expanded", "bench-cuda-expanded.json")]
runs += [(k, "bench-cuda-grouped-%s.json" % k) for k in ("shared", "cached")]
rows = {}
for label, name in runs:
    try:
        with open(os.path.join(out, name)) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print("%s: no figures (%s)" % (name, e))
        continue
    for r in data:
        cell = r.get("error") or "%-13s %8.0f G %7s" % (
            r["path"], r.get("kernel_gmacs", 0),
            "%.2fx" % r["kernel_vs_cudnn"] if "kernel_vs_cudnn" in r else "-")
        rows.setdefault(r["shape"], {})[label] = cell
print("%-30s %-33s %-33s %s" % ("shape (kernel LUT-MAC/s, vs cuDNN)", "shared", "cached",
                                "expanded"))
for shape, cells in rows.items():
    print("%-30s %-33s %-33s %s" % (shape, cells.get("shared", "-"), cells.get("cached", "-"),
                                    cells.get("expanded", "-")))
PY
cat "$out/summary.txt" | tee -a "$log"
say "== done in $(( $(date +%s) - t0 )) s, status $rc"
exit $rc
