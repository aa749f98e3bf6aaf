"""Does importing ONNX cost anything per image? The shipped LeNet-5 as a model folder and as its
ONNX export (the same weights and calibrated ranges, tests/onnx_torch_models.export_lenet) run by
'axconv-test net' on the 10,000 Fashion-MNIST test images, alternately, RUNS times each: the
median seconds of the approximate network (the row's time) and images/s, per model and their
ratio, for --approx conv (TFApprox's) and all.

Usage: python3 bench/onnx_lenet.py BUILDDIR [RUNS] [TABLE]"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(src, "tests"))
import onnx_torch_models as zoo  # noqa: E402

builddir = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
table = sys.argv[3] if len(sys.argv) > 3 else os.path.join(src, "tables", "mul8u_trunc_k6.bin")
axconv = os.path.join(builddir, "conv", "axconv-test")
onnx_path = os.path.join(tempfile.mkdtemp(prefix="axmul-bench."), "lenet5.onnx")
zoo.export_lenet(src, onnx_path)
folder = os.path.join(src, "models", "lenet5-fashion-mnist")


def seconds(model, approx):
    out = subprocess.run([axconv, "net", "--model", model, "--mtab", table, "--approx", approx,
                          "--format", "json", "--quiet"], check=True, capture_output=True,
                         text=True).stdout
    row = json.loads(out.splitlines()[0])
    return row["seconds"], row["accuracy"]


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
print("CPU: %s, %d runs each, table %s, 10000 images" % (cpu, runs, os.path.basename(table)))
for approx in ("conv", "all"):
    t = {"folder": [], "onnx": []}
    acc = {}
    for _ in range(runs):
        for name, model in (("folder", folder), ("onnx", onnx_path)):
            s, a = seconds(model, approx)
            t[name].append(s)
            acc[name] = a
    med = {k: statistics.median(v) for k, v in t.items()}
    print("--approx %-4s model folder %.3f s (%.0f images/s, accuracy %.4f)   ONNX %.3f s "
          "(%.0f images/s, accuracy %.4f)   ONNX/folder time %.3f" %
          (approx, med["folder"], 10000 / med["folder"], acc["folder"], med["onnx"],
           10000 / med["onnx"], acc["onnx"], med["onnx"] / med["folder"]))
