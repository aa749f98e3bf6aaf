#!/bin/sh
# The one-command GPU check: on a machine with an NVIDIA GPU, nvcc and no registries or
# autotools, build axmul from its `make dist` tarball (with the Debian packages it needs unpacked
# under /tmp/deps, never into /), run the GPU tests and the GPU benchmark (LUT kernels against
# cuDNN's exact fp32 convolution when cuDNN is there), and write a log and JSON figures into
# OUT_DIR (more than the 8 files that a device session brings back: tar the folder). About 5
# minutes on an H200 with 16 cores (2026-12-04). Options in the environment: GPU_CHECK_TESTS
# (the suites; default most of them), GPU_CHECK_TEST_SECONDS (their time limit, 240),
# GPU_CHECK_NET_KINDS (the kernel designs of the whole-network runs, default auto),
# GPU_CHECK_NCU=1 (Nsight Compute on the first kernels), GPU_CHECK_CPU_BENCH=1 (the host CPU's
# benchmark).
#
#   cuda/gpu-check.sh TARBALL DEBS_DIR OUT_DIR [SM]
#
# DEBS_DIR holds .deb files fetched on a Debian 12 machine, e.g.
#   apt-get download libpng-dev libpng16-16 zlib1g zlib1g-dev libjansson-dev libjansson4 \
#       libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev \
#       libgfortran5 libquadmath0 check libsubunit-dev libsubunit0 pkgconf pkgconf-bin \
#       libpkgconf3 dataset-fashion-mnist libprotobuf-c-dev libprotobuf-c1 protobuf-c-compiler \
#       libprotobuf32 libprotoc32 libonnx-dev
# GPU_CHECK_MODELS (space-separated .onnx files, e.g. the ResNet-18-style network that
# `models/make-onnx-model.py BUILDDIR 600 resnet OUT` trains) adds whole-network runs of them.
# SM (e.g. 90) restricts the fat binary to the local GPU to save build time; default: the
# configure default (75 80 86 89 90 + PTX).
set -eu
tarball=$(readlink -f "$1")
debs=$(readlink -f "$2")
out=$(mkdir -p "$3" && readlink -f "$3")
sm=${4:-}
models=""
for m in ${GPU_CHECK_MODELS:-}; do models="$models $(readlink -f "$m")"; done
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
# Absolute links (zlib1g-dev's libz.so -> /lib/.../libz.so.1.2.13) point outside the unpacked
# tree, where the GPU machine may have another version or none: the linker then takes libz.a,
# which cannot go into a shared library. Point them into the tree.
find "$deps" -type l | while read -r l; do
    t=$(readlink "$l")
    case $t in /*) [ -e "$deps$t" ] && ln -sf "$deps$t" "$l" ;; esac
done
# the unpacked .pc files still say prefix=/usr
for pc in $(find "$deps" -name '*.pc'); do
    sed -i "s|^prefix=/usr|prefix=$deps/usr|; s|=/usr/|=$deps/usr/|g" "$pc"
done
arch=$(uname -m)-linux-gnu
export PATH="$deps/usr/bin:$PATH"
# (OpenBLAS's .pc sits in its variant's folder: dpkg -x makes no alternatives links)
export PKG_CONFIG_PATH="$deps/usr/lib/$arch/pkgconfig:$deps/usr/lib/$arch/openblas-pthread/pkgconfig:$deps/usr/share/pkgconfig:$deps/usr/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$PKG_CONFIG_PATH"
export LD_LIBRARY_PATH="$deps/usr/lib/$arch:$deps/lib/$arch:$deps/usr/lib/$arch/openblas-pthread:${LD_LIBRARY_PATH:-}"
export CPPFLAGS="-I$deps/usr/include -I$deps/usr/include/$arch"
export LDFLAGS="-L$deps/usr/lib/$arch -Wl,-rpath,$deps/usr/lib/$arch -Wl,-rpath,$deps/lib/$arch"

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
# ONNX import (the whole-network runs of GPU_CHECK_MODELS): protoc-c and onnx.proto from DEBS_DIR
onnx=""
[ -f "$deps/usr/include/onnx/onnx.proto" ] && onnx="ONNX_PROTO=$deps/usr/include/onnx/onnx.proto"
./configure --with-cuda $archs $onnx >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
say "== build"
make -j"$(nproc)" >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
# The test suite but for the Python, browser and cross-architecture tests (the GPU machine's own
# Python differs from Debian's; none of them touches the GPU): with a GPU present, the auto
# backend of every tool and suite runs on it. Results are read from the .trs files, so a suite cut
# off by the time limit still reports the others.
say "== tests"
tests=${GPU_CHECK_TESTS:-"tests/check_cuda tests/check_cudakernel tests/check_conv tests/check_cpu
    tests/check_table tests/check_metrics tests/check_packing tests/check_npy tests/check_image
    tests/check_families tests/check_dataset tests/check_model tests/check_train tests/check_onnx
    tests/test_conv.sh tests/test_net.sh tests/test_gen.sh tests/test_tables.sh tests/test_verify.sh
    tests/test_report.sh tests/test_badinput.sh tests/test_interrupt.sh tests/test_onnx.sh"}
set +e
# shellcheck disable=SC2086
timeout "${GPU_CHECK_TEST_SECONDS:-240}" make -j"$(nproc)" check TESTS="$(echo $tests)" \
    >> "$log" 2>&1
rc=$?
set -e
cat tests/check_cuda.log >> "$log" 2>/dev/null || true
for t in tests/*.trs; do
    r=$(sed -n 's/^:test-result: //p' "$t")
    echo "$r: ${t%.trs}"
    [ "$r" = FAIL ] || [ "$r" = ERROR ] && { echo "---- ${t%.trs}.log"; tail -40 "${t%.trs}.log"; }
done >> "$out/tests.txt" 2>&1 || true
grep -E "^(PASS|FAIL|SKIP|ERROR|XFAIL)" "$out/tests.txt" | tee -a "$log" || true
cat "$out/tests.txt" >> "$log"
# Kernel designs (AXMUL_CUDA_TABLE): auto (the default), the column kernel with the table in
# shared memory and through the read-only cache (the texture-like baseline), the expanded-table
# kernel wherever it runs.
kinds="auto shared cached expanded"
for kind in $kinds; do
    say "== GPU benchmark, standard shapes ($kind)"
    AXMUL_CUDA_TABLE=$kind timeout 120 ./conv/axconv-test bench --backend cuda --repeat 5 \
        --format json > "$out/bench-cuda-$kind.json" 2>> "$log" || rc=1
done
for kind in $kinds; do
    say "== GPU benchmark, the issue's target layer: 3x3 56x56x64->64 batch 64 ($kind)"
    AXMUL_CUDA_TABLE=$kind timeout 120 ./conv/axconv-test bench --backend cuda --repeat 5 \
        --format json --shape 64,56,56,64 --kernel 3,3,64 > "$out/bench-cuda-b64-$kind.json" \
        2>> "$log" || rc=1
done
# A grouped layer (ResNeXt-50's first-stage 3x3: 32 groups of 4 channels), which the column
# kernel tiles across groups (modes 5-6 of cuda/kernel.h; the expanded kernel leaves it to the
# column kernel).
for kind in auto shared; do
    say "== GPU benchmark, grouped 3x3 56x56x128 g32 b32 ($kind)"
    AXMUL_CUDA_TABLE=$kind timeout 120 ./conv/axconv-test bench --backend cuda --repeat 5 \
        --format json --shape 32,56,56,128 --kernel 3,3,128 --groups 32 \
        > "$out/bench-cuda-grouped-$kind.json" 2>> "$log" || rc=1
done
if [ "${GPU_CHECK_CPU_BENCH:-0}" = 1 ]; then # the host CPU's figures: a minute more
    ./conv/axconv-test bench --backend cpu --repeat 3 --format json > "$out/bench-cpu.json" \
        2>> "$log" || true
fi
fm="$deps/usr/share/datasets/fashion-mnist"
if [ -f "$fm/t10k-images-idx3-ubyte.gz" ]; then
    # Whole-network scores must not depend on the backend: the CPU's rows against the CUDA
    # backend's, every field but the time (each run at most two minutes: a device lent for
    # minutes is not spent on one slow run).
    for kind in ${GPU_CHECK_NET_KINDS:-auto}; do
        say "== LeNet-5, 10,000 Fashion-MNIST images, bundled tables, CUDA backend ($kind)"
        AXMUL_CUDA_TABLE=$kind timeout 120 ./conv/axconv-test net \
            --model models/lenet5-fashion-mnist --dataset "fashion-mnist:$fm" --mtab-dir tables \
            --backend cuda --format json --quiet > "$out/net-cuda-$kind.json" 2>> "$log" || rc=1
    done
    say "== LeNet-5, the same tables on the CPU backend"
    timeout 120 ./conv/axconv-test net --model models/lenet5-fashion-mnist \
        --dataset "fashion-mnist:$fm" --mtab-dir tables \
        --backend cpu --format json --quiet > "$out/net-cpu.json" 2>> "$log" || rc=1
    # GPU_CHECK_MODELS: ONNX models (e.g. the ResNet-18-style network of
    # models/make-onnx-model.py) timed on the CUDA backend with four bundled tables, and checked
    # against the CPU backend on the first 1000 images with three tables
    for m in $models; do
        name=$(basename "$m" .onnx)
        for kind in ${GPU_CHECK_NET_KINDS:-auto}; do
            say "== $name, 10,000 Fashion-MNIST images, four tables, CUDA backend ($kind)"
            AXMUL_CUDA_TABLE=$kind timeout 120 ./conv/axconv-test net --model "$m" \
                --dataset "fashion-mnist:$fm" \
                --mtab tables/mul8u_1JFF.bin --mtab tables/mul8u_drum_k4.bin \
                --mtab tables/mul8u_mitchell.bin --mtab tables/mul8u_trunc_k4.bin --backend cuda \
                --format json --quiet > "$out/net-cuda-$kind-$name.json" 2>> "$log" || rc=1
        done
        for b in cpu cuda; do
            say "== $name, first 1000 images, three tables, $b backend"
            timeout 120 ./conv/axconv-test net --model "$m" --limit 1000 \
                --dataset "fashion-mnist:$fm" \
                --mtab tables/mul8u_1JFF.bin --mtab tables/mul8u_drum_k4.bin \
                --mtab tables/mul8u_mitchell.bin --backend $b --format json --quiet \
                > "$out/net-$b-1000-$name.json" 2>> "$log" || rc=1
        done
    done
fi
if [ "${GPU_CHECK_NCU:-0}" = 1 ] && command -v ncu > /dev/null 2>&1; then
    # Where the LUT kernel's time goes (shared-memory bank conflicts, issue slots, occupancy) on
    # the benchmark's first CUDA shapes; needs access to the GPU's counters, else it says so.
    say "== ncu: the first LUT kernel launches of the CUDA benchmark"
    for kind in shared expanded; do
        AXMUL_CUDA_TABLE=$kind timeout 60 ncu --target-processes all \
            --kernel-name regex:lut_conv --launch-count 3 \
            --section SpeedOfLight --section Occupancy --section LaunchStats \
            --section SchedulerStats --section MemoryWorkloadAnalysis_Tables \
            ./conv/axconv-test bench --backend cuda --quick --repeat 1 > "$out/ncu-$kind.txt" 2>&1 ||
            true
        tail -60 "$out/ncu-$kind.txt" >> "$log"
    done
fi
# One table of the kernel designs side by side (kernel time only), for the log and
# doc/performance.md: which kernel ran per shape, its LUT-MAC/s and its time over cuDNN's.
python3 - "$out" > "$out/summary.txt" 2>&1 << 'PY' || true
import json, os, sys
out = sys.argv[1]
kinds = ["auto", "shared", "cached", "expanded"]
rows = {}
for prefix, suffix in (("bench-cuda-", ""), ("bench-cuda-b64-", " (b64 run)"),
                       ("bench-cuda-grouped-", "")):
    for kind in kinds:
        name = prefix + kind + ".json"
        if not os.path.exists(os.path.join(out, name)):
            continue
        try:
            with open(os.path.join(out, name)) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: no figures (%s)" % (name, e))
            continue
        for r in data:
            cell = r.get("error") or "%-13s %5.0f G %6s" % (
                r["path"], r.get("kernel_gmacs", 0),
                "%.2fx" % r["kernel_vs_cudnn"] if "kernel_vs_cudnn" in r else "-")
            rows.setdefault(r["shape"] + suffix, {})[kind] = cell
print("%-34s %s" % ("shape (kernel LUT-MAC/s, vs cuDNN)", " ".join("%-27s" % k for k in kinds)))
for shape, cells in rows.items():
    print("%-34s %s" % (shape, " ".join("%-27s" % cells.get(k, "-") for k in kinds)))
PY
# Whole-network rows, CPU against CUDA: every field but the time must agree (exit 1 if not), and
# the images per second of each run.
python3 - "$out" >> "$out/summary.txt" 2>&1 << 'PY' || rc=1
import glob, json, os, sys
out = sys.argv[1]
def rows(name):
    with open(os.path.join(out, name)) as f:
        return [json.loads(l) for l in f if l.strip()]
pairs = [("net-cpu.json", os.path.basename(p))
         for p in sorted(glob.glob(os.path.join(out, "net-cuda-*.json")))
         if "-1000-" not in p and os.path.basename(p).count("-") == 2]
pairs += [(p, p.replace("net-cpu-", "net-cuda-"))
          for p in map(os.path.basename, sorted(glob.glob(os.path.join(out, "net-cpu-1000-*"))))]
bad = 0
for a, b in pairs:
    try:
        ra, rb = rows(a), rows(b)
    except (OSError, ValueError) as e:
        print("%s against %s: no rows (%s)" % (a, b, e))
        bad += 1
        continue
    diff = [(x.get("table"), k) for x, y in zip(ra, rb) for k in x
            if k != "seconds" and x[k] != y.get(k)]
    if len(ra) != len(rb) or not ra:
        diff.append(("rows", "%d against %d" % (len(ra), len(rb))))
    print("%s against %s: %d rows, %s" % (a, b, len(ra), "identical but for the time" if not diff
                                             else "DIFFERENT: %s" % diff[:5]))
    bad += bool(diff)
for name in sorted(glob.glob(os.path.join(out, "net-*.json"))):
    r = rows(os.path.basename(name))
    secs = sorted(x["seconds"] for x in r if "seconds" in x)
    if secs:
        print("%-40s %3d tables, median %.3f s per table, %.0f images/s" % (
            os.path.basename(name), len(r), secs[len(secs) // 2],
            r[0]["images"] / secs[len(secs) // 2]))
sys.exit(1 if bad else 0)
PY
cat "$out/summary.txt" | tee -a "$log"
say "== done in $(( $(date +%s) - t0 )) s, status $rc"
exit $rc
