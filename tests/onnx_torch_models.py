"""Small Fashion-MNIST networks of the three families users bring (a ResNet-18-style residual
network, a MobileNetV2-style network of inverted residuals with depthwise convolutions and ReLU6,
and a small vision transformer), their brief training in torch, and their export to ONNX with
torch.onnx: shared by tests/onnx_torch_check.py and models/make-onnx-models.py."""

import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION = "/usr/share/datasets/fashion-mnist"


class Basic(nn.Module):
    """ResNet's basic block (He et al., CVPR 2016): two 3x3 conv + BN, a 1x1 projection when the
    shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    """ResNet-18's structure at Fashion-MNIST's scale: a stem, stages of two basic blocks
    (16, 32, 64 channels, strides 1, 2, 2), max pooling, global average pooling, a classifier."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [Basic(cin, w, 1 if i == 0 else 2), Basic(w, w, 1)]
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Inverted(nn.Module):
    """MobileNetV2's inverted residual (Sandler et al., CVPR 2018): 1x1 expansion, 3x3
    depthwise, 1x1 linear projection, ReLU6, a residual where the shape stays."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU6(), nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.res else y


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.blocks = nn.Sequential(Inverted(16, 16, 1, 2), Inverted(16, 24, 2, 4),
                                    Inverted(24, 24, 1, 4), Inverted(24, 32, 2, 4),
                                    Inverted(32, 32, 1, 4))
        self.head = nn.Sequential(nn.Conv2d(32, 96, 1, bias=False), nn.BatchNorm2d(96),
                                  nn.ReLU6())
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(self.drop(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))


class ViT(nn.Module):
    """A small vision transformer (Dosovitskiy et al., ICLR 2021): 7x7 patches (16 tokens and a
    class token), learned positions, pre-norm encoder layers with GELU, a linear head."""

    def __init__(self, dim=48, depth=2, heads=3, patch=7):
        super().__init__()
        n = (28 // patch) ** 2
        self.patch = nn.Conv2d(1, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, 0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.enc(x)[:, 0]))


FAMILIES = {"resnet": ResNet, "mobilenet": MobileNet, "vit": ViT}


def fashion(train, fm=FASHION):
    """Fashion-MNIST images (NCHW, pixel / 255) and labels, as torch tensors."""
    split = "train" if train else "t10k"
    with gzip.open(os.path.join(fm, split + "-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(fm, split + "-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return (torch.from_numpy(x.astype(np.float32) / np.float32(255)),
            torch.from_numpy(y.astype(np.int64)))


def train(model, steps, batch=64, lr=2e-3, seed=1, log=None):
    """Adam on the training set for steps batches (a seeded shuffle); returns the model in eval
    mode."""
    x, y = fashion(True)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    order = torch.randperm(len(x), generator=g)
    for s in range(steps):
        i = order[(s * batch) % len(x):][:batch]
        if len(i) < batch:
            order = torch.randperm(len(x), generator=g)
            i = order[:batch]
        loss = F.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and (s + 1) % 200 == 0:
            log("step %d/%d: loss %.3f" % (s + 1, steps, loss.item()))
    return model.eval()


def accuracy(model, n=10000):
    x, y = fashion(False)
    with torch.no_grad():
        p = torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, n, 500)])
    return (p == y[:n]).float().mean().item()


def export(model, path, opset):
    """torch.onnx.export with a symbolic batch: input "image" (N, 1, 28, 28), output "logits"."""
    torch.onnx.export(model, torch.zeros(2, 1, 28, 28), path, opset_version=opset,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}})


def export_lenet(srcdir, path):
    """The shipped LeNet-5 (models/lenet5-fashion-mnist) exported to ONNX with model.json's
    calibrated input ranges in the file's metadata (axmul:range:NODE): the same network."""
    import onnx
    import lenet_torch
    model, ranges = lenet_torch.load_lenet(srcdir)
    torch.onnx.export(model.eval(), torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    g = onnx.load(path)
    node = {"conv1": "/conv1/Conv", "conv2": "/conv2/Conv", "fc1": "/fc1/Gemm",
            "fc2": "/fc2/Gemm", "fc3": "/fc3/Gemm"}
    for layer, (lo, hi) in ranges.items():
        p = g.metadata_props.add()
        p.key, p.value = "axmul:range:" + node[layer], "%.9g %.9g" % (lo, hi)
    onnx.save(g, path)
