"""ONNX import against PyTorch (tests/test_onnx_torch.sh): networks of the three families users
bring (ResNet-18-style, MobileNetV2-style, a small ViT; tests/onnx_torch_models.py), trained
briefly on Fashion-MNIST and exported with torch.onnx at two opsets each, run by
'axconv-test run': the float outputs equal torch's (max |difference| <= 1e-4 x max |output|);
calibrated, with the exact table in every Conv, Gemm and MatMul (attention's products too), the
accuracy is within 0.5 points of float; the CNNs train from their .onnx files (as layer models),
the ViT is refused naming its first node without a layer kind. And the shipped LeNet-5 exported to ONNX with
model.json's ranges gives, with an approximate table, the rows of the model folder exactly.

Usage: onnx_torch_check.py BUILDDIR SRCDIR [STEPS]"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch

builddir, srcdir = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 250
sys.path.insert(0, os.path.join(srcdir, "tests"))
import onnx_torch_models as zoo  # noqa: E402

axconv = os.path.join(builddir, "conv", "axconv-test")
exact = os.path.join(srcdir, "tables", "mul8u_1JFF.bin")
approx = os.path.join(srcdir, "tables", "mul8u_trunc_k6.bin")
torch.set_num_threads(2)
torch.manual_seed(1)
tmp = tempfile.mkdtemp(prefix="axmul-onnx-torch.")
failures = []


def tool(*args):
    r = subprocess.run([axconv, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("axconv-test %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                           r.stdout, r.stderr))
    return r.stdout


def rows(*args):
    return [json.loads(l) for l in tool("net", *args, "--format", "json", "--quiet").splitlines()
            if l.startswith("{")]


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


x_test, _ = zoo.fashion(False)
x = x_test[:500]
np.save(os.path.join(tmp, "x.npy"), x.numpy())
for name, opsets in (("resnet", (11, 13)), ("mobilenet", (11, 13)), ("vit", (13, 17))):
    model = zoo.train(zoo.FAMILIES[name](), steps)
    with torch.no_grad():
        want = model(x).numpy()
    for opset in opsets:
        path = os.path.join(tmp, "%s%d.onnx" % (name, opset))
        zoo.export(model, path, opset)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        out = os.path.join(tmp, "y.npy")
        tool("run", "--model", path, "--input", os.path.join(tmp, "x.npy"), "--output", out)
        got = np.load(out)
        err = float(np.abs(got - want).max() / np.abs(want).max())
        check(got.shape == want.shape and err <= 1e-4,
              "%s opset %d (%s): float outputs of 500 images within %.1e of torch's (max |y| "
              "scale)" % (name, opset, ", ".join(ops), err))
    tool("calibrate", "--model", path, "--limit", "2000")
    r = rows("--model", path, "--mtab", exact, "--approx", "all,matmul", "--limit", "2000")[0]
    check(abs(r["exact_accuracy"] - r["float_accuracy"]) <= 0.005 and
          r["accuracy"] == r["exact_accuracy"],
          "%s: accuracy with the exact table %.4f, float %.4f (2000 images)" %
          (name, r["exact_accuracy"], r["float_accuracy"]))
    # fine-tuning from the ONNX file: as its layer model, written as a folder
    tuned = os.path.join(tmp, name + "-tuned")
    if name == "vit":
        t = subprocess.run([axconv, "train", "--from", path, "--out", tuned, "--epochs", "1",
                            "--limit", "64"], capture_output=True, text=True)
        check(t.returncode == 2 and "has no counterpart among the layer kinds" in t.stderr,
              "vit: train --from refused, naming the node: " + t.stderr.strip()[:160])
    else:
        tool("train", "--from", path, "--out", tuned, "--epochs", "1", "--limit", "256", "--lr",
             "1e-7", "--mtab", exact, "--approx", "all", "--quiet")
        t = rows("--model", tuned, "--mtab", exact, "--approx", "all", "--limit", "2000")[0]
        check(abs(t["float_accuracy"] - r["float_accuracy"]) <= 0.002,
              "%s: train --from the .onnx (a step of lr 1e-7): float accuracy %.4f as a folder, "
              "%.4f as ONNX" % (name, t["float_accuracy"], r["float_accuracy"]))

# the shipped LeNet-5 as ONNX, with model.json's calibrated ranges: the same rows
path = os.path.join(tmp, "lenet.onnx")
zoo.export_lenet(srcdir, path)
folder = os.path.join(srcdir, "models", "lenet5-fashion-mnist")
a = rows("--model", folder, "--mtab", approx, "--approx", "all", "--limit", "5000")[0]
b = rows("--model", path, "--mtab", approx, "--approx", "all", "--limit", "5000")[0]
same = all(a[k] == b[k] for k in ("accuracy", "exact_accuracy", "float_accuracy", "agreement",
                                  "layer_snr_db"))
check(same, "LeNet-5: model folder and ONNX export give the same row with %s in every layer "
      "(accuracy %.4f, layer SNR %s)" % (os.path.basename(approx), b["accuracy"],
                                         b["layer_snr_db"]))
print("Ran %d families and LeNet-5" % 3)
sys.exit(1 if failures else 0)
