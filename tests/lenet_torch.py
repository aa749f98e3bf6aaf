"""The project's LeNet-5 (models/lenet5-fashion-mnist) as a torch module, and the Fashion-MNIST
test set: shared by tests/python_torch_check.py and bench/python_lenet.py."""

import gzip
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    """The project's LeNet-5 (doc/models.md) in torch's NCHW layout."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(1936, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def load_lenet(src):
    """The shipped model's tensors in the torch module: HWIO filters to OIHW, (in, out) dense
    weights to (out, in), fc1's rows from axmul's flatten order (h, w, c) to torch's (c, h, w).
    Returns the module and the model.json input ranges of the conv layers."""
    model = os.path.join(src, "models", "lenet5-fashion-mnist")
    m = LeNet()
    ld = lambda n: torch.from_numpy(np.load(os.path.join(model, n)))  # noqa: E731
    with torch.no_grad():
        for c in ("conv1", "conv2"):
            getattr(m, c).weight.copy_(ld(c + "_weights.npy").permute(3, 2, 0, 1))
            getattr(m, c).bias.copy_(ld(c + "_bias.npy"))
        w1 = ld("fc1_weights.npy").reshape(11, 11, 16, 120).permute(2, 0, 1, 3).reshape(1936, 120)
        m.fc1.weight.copy_(w1.t())
        for f in ("fc1", "fc2", "fc3"):
            if f != "fc1":
                getattr(m, f).weight.copy_(ld(f + "_weights.npy").t())
            getattr(m, f).bias.copy_(ld(f + "_bias.npy"))
    with open(os.path.join(model, "model.json")) as f:
        ranges = {l["name"]: tuple(l["input_range"]) for l in json.load(f)["layers"]
                  if "input_range" in l}
    return m, ranges


def test_images(fm="/usr/share/datasets/fashion-mnist"):
    """The 10,000 Fashion-MNIST test images (NCHW, pixel / 255) and labels."""
    with gzip.open(os.path.join(fm, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(fm, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / np.float32(255)), torch.from_numpy(y.copy())
