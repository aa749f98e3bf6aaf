"""Makes models/vit-fashion-mnist.onnx, the shipped ONNX model: the small vision transformer of
tests/onnx_torch_models.py trained on Fashion-MNIST (Adam, seeded), exported with torch.onnx
(opset 17), then calibrated by axconv-test (its ranges in the file's metadata). With MODEL
resnet, the ResNet-18-style network of the same file instead, written to OUT (not shipped: the
GPU check's whole-network benchmark, cuda/gpu-check.sh).

Usage: python3 models/make-onnx-model.py BUILDDIR [STEPS [MODEL OUT]] (run from the source tree;
about two minutes on two cores for the default 4000 steps of the ViT)."""

import os
import subprocess
import sys

import torch

src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(src, "tests"))
import onnx_torch_models as zoo  # noqa: E402

builddir = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
kind = sys.argv[3] if len(sys.argv) > 3 else "vit"
if kind not in ("vit", "resnet"):
    sys.exit("make-onnx-model.py: error: MODEL '%s': expected vit or resnet" % kind)
torch.manual_seed(1)
torch.set_num_threads(2)
net = zoo.ViT() if kind == "vit" else zoo.ResNet()
model = zoo.train(net, steps, lr=2e-3, log=lambda m: print(m, flush=True))
print("torch float accuracy: %.4f" % zoo.accuracy(model))
out = sys.argv[4] if len(sys.argv) > 4 else os.path.join(src, "models", "vit-fashion-mnist.onnx")
zoo.export(model, out + ".tmp", 17)
os.replace(out + ".tmp", out)
subprocess.run([os.path.join(builddir, "conv", "axconv-test"), "calibrate", "--model", out],
               check=True)
print("wrote", out)
