"""axmul.torch against the C tools and against torch itself: the shipped LeNet-5 rebuilt as a
torch module from its tensors and converted gives axconv-test net's predictions on all 10,000
Fashion-MNIST test images; the layers' gradients are the float layers'; calibrate, convert's
options, fine-tuning with an optimizer, bad arguments.

Run by tests/test_python.sh: python3 tests/python_torch_check.py BUILDDIR SRCDIR [SEED]."""

import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import axmul
import axmul.torch as at
from lenet_torch import load_lenet, test_images

BUILD, SRC = sys.argv[1], sys.argv[2]
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else random.randrange(2**31)
CONV = os.path.join(BUILD, "conv", "axconv-test")
TABLES = os.path.join(SRC, "tables")
FM = "/usr/share/datasets/fashion-mnist"
print("seed", SEED)
torch.manual_seed(SEED)


class Networks(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(os.path.join(FM, "t10k-images-idx3-ubyte.gz")),
                         "Debian's dataset-fashion-mnist is not installed")
    def test_lenet_predictions_equal_net(self):
        x, labels = test_images()
        for name in ("mul8u_drum_k4.bin", "mul8s_mitchell.bin"):
            with tempfile.TemporaryDirectory() as d:
                pred_file = os.path.join(d, "pred.txt")
                subprocess.run([CONV, "net", "--model", os.path.join(SRC, "models",
                                "lenet5-fashion-mnist"), "--mtab",
                                os.path.join(TABLES, name), "--predictions", pred_file,
                                "--quiet"], check=True, capture_output=True)
                rows = np.loadtxt(pred_file, dtype=np.int64)  # image, prediction, label
                want = rows[:, 1]
                self.assertTrue(np.array_equal(rows[:, 2], labels.numpy()))
            m, ranges = load_lenet(SRC)
            t = axmul.Table.load(os.path.join(TABLES, name))
            at.convert(m, t)
            for c in ("conv1", "conv2"):  # the calibrated ranges of model.json
                getattr(m, c).in_range = ranges[c]
            m.eval()
            with torch.no_grad():
                got = torch.cat([m(x[i:i + 1000]).argmax(1) for i in range(0, 10000, 1000)])
            same = int((got.numpy() == want).sum())
            self.assertEqual(same, 10000, "%s: %d of 10000 predictions equal" % (name, same))
            self.assertGreater(int((got == labels.long()).sum()), 4000, name)  # not at chance

    def test_fine_tuning_lowers_the_loss(self):
        # its own draw from SEED: after the generator state the other tests leave behind, a few
        # seeds gave a batch whose 15th Adam step went up (seed 1288899067, before this change
        # and after it); seeded here, 0 of 90 seeds did
        torch.manual_seed(SEED)
        m, _ = load_lenet(SRC)
        at.convert(m, axmul.Table.load(os.path.join(TABLES, "mul8u_trunc_k8.bin")))
        x = torch.rand(64, 1, 28, 28)
        y = torch.randint(0, 10, (64,))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        losses = []
        for _ in range(15):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        self.assertLess(losses[-1], losses[0] - 0.1, losses)
        self.assertTrue(all(b < a for a, b in zip(losses, losses[1:])), losses)


class Docs(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(os.path.join(FM, "train-images-idx3-ubyte.gz")),
                         "Debian's dataset-fashion-mnist is not installed")
    def test_doc_fine_tuning_script(self):
        """doc/python.md's fine-tuning script, as the reader copies it."""
        import re

        with open(os.path.join(SRC, "doc", "python.md")) as f:
            m = re.search(r"<!-- test: python-finetune -->\n```python\n(.*?)```", f.read(), re.S)
        self.assertIsNotNone(m, "doc/python.md lost its tested script")
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "finetune.py")
            with open(script, "w") as f:
                f.write(m.group(1))
            p = subprocess.run([sys.executable, script], cwd=SRC, capture_output=True, text=True,
                               env=dict(os.environ))
        self.assertEqual(p.returncode, 0, p.stderr)
        acc = {k: float(v) for k, v in re.findall(r"^(float accuracy|with the table|after fine-tuning)"
                                                   r" +([0-9.]+)", p.stdout, re.M)}
        self.assertEqual(len(acc), 3, p.stdout)
        self.assertGreater(acc["float accuracy"], 0.6, p.stdout)
        self.assertGreater(acc["after fine-tuning"], acc["with the table"] + 0.02, p.stdout)


class Layers(unittest.TestCase):
    def test_gradients_are_the_float_layers(self):
        t = axmul.Table.load(os.path.join(TABLES, "mul8u_mitchell.bin"))
        for padding, stride, groups in ((1, 1, 1), ("same", 1, 2), (0, 2, 1), ((2, 0), 1, 4)):
            f = nn.Conv2d(4, 8, 3, stride=stride, padding=padding, groups=groups)
            a = at.ApproxConv2d.from_module(f, t)
            self.assertIs(a.weight, f.weight)  # the parameters are shared
            x = torch.rand(3, 4, 9, 9)
            r = torch.randn(a(x).shape)
            grads = []
            for layer in (a, f):
                layer.zero_grad()
                xv = x.clone().requires_grad_()
                (layer(xv) * r).sum().backward()
                grads.append([xv.grad, layer.weight.grad.clone(), layer.bias.grad.clone()])
            for ga, gf in zip(*grads):
                self.assertTrue(torch.equal(ga, gf), (padding, stride, groups))
            self.assertFalse(torch.equal(a(x), f(x)))  # the forward pass is the table's
        lin = nn.Linear(20, 7)
        al = at.ApproxLinear.from_module(lin, t)
        x = torch.rand(5, 20)
        r = torch.randn(5, 7)
        grads = []
        for layer in (al, lin):
            layer.zero_grad()
            xv = x.clone().requires_grad_()
            (layer(xv) * r).sum().backward()
            grads.append([xv.grad, layer.weight.grad.clone(), layer.bias.grad.clone()])
        for ga, gf in zip(*grads):
            self.assertTrue(torch.allclose(ga, gf, rtol=1e-6, atol=1e-7))

    def test_forward_is_axmul_conv2d(self):
        t = axmul.Table.load(os.path.join(TABLES, "mul8s_drum_k4.bin"))
        c = at.ApproxConv2d(3, 5, 3, padding=(1, 2), dilation=(2, 1), table=t, per_channel=True)
        x = torch.rand(2, 3, 10, 11) - 0.3
        with torch.no_grad():
            y = c(x)
        want = axmul.conv2d(np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy()),
                            np.ascontiguousarray(c.weight.detach().permute(2, 3, 1, 0).numpy()),
                            t, padding=(1, 1, 2, 2), dilation=(2, 1), per_channel=True)
        want = torch.from_numpy(want).permute(0, 3, 1, 2) + c.bias.detach().view(1, -1, 1, 1)
        self.assertTrue(torch.equal(y, want))

    def test_calibrate_and_batch_ranges(self):
        m, _ = load_lenet(SRC)
        t = axmul.Table.load(os.path.join(TABLES, "mul8u_drum_k4.bin"))
        at.convert(m, t, approx="all")
        x = torch.rand(40, 1, 28, 28) * 0.8
        m.eval()
        with torch.no_grad():
            a = m(x[:10])
            b = m(torch.cat([x[:10], x[10:] * 3]))[:10]
        self.assertFalse(torch.equal(a, b))  # per-batch ranges: batch-mates matter
        ranges = at.calibrate(m, [x[i:i + 10] for i in range(0, 40, 10)])
        self.assertEqual(set(ranges), {"conv1", "conv2", "fc1", "fc2", "fc3"})
        self.assertEqual(ranges["conv1"], (float(x.min()), float(x.max())))
        with torch.no_grad():
            a = m(x[:10])
            b = m(torch.cat([x[:10], x[10:] * 3]))[:10]
        self.assertTrue(torch.equal(a, b))  # static ranges: they do not
        self.assertTrue(m.training is False)

    def test_convert_options_and_errors(self):
        t = axmul.Table.load(os.path.join(TABLES, "mul8u_drum_k4.bin"))
        t2 = axmul.Table.load(os.path.join(TABLES, "mul8u_mitchell.bin"))
        m, _ = load_lenet(SRC)
        at.convert(m, t)
        self.assertIsInstance(m.conv1, at.ApproxConv2d)
        self.assertNotIsInstance(m.fc1, at.ApproxLinear)
        m, _ = load_lenet(SRC)
        at.convert(m, None, layer_tables={"fc1": t2})
        self.assertIsInstance(m.fc1, at.ApproxLinear)
        self.assertIs(m.fc1.table, t2)
        self.assertNotIsInstance(m.conv1, at.ApproxConv2d)
        m, _ = load_lenet(SRC)
        at.convert(m, t, layers=["conv2", "fc3"], layer_tables={"conv2": t2})
        self.assertIs(m.conv2.table, t2)
        self.assertIs(m.fc3.table, t)
        self.assertNotIsInstance(m.conv1, at.ApproxConv2d)
        with self.assertRaises(ValueError):
            at.convert(load_lenet(SRC)[0], t, layers=["conv9"])
        with self.assertRaises(ValueError):
            at.convert(nn.Sequential(nn.ReLU()), t, layers=["0"])
        with self.assertRaises(ValueError):
            at.convert(load_lenet(SRC)[0], t, approx="everything")
        with self.assertRaises(TypeError):
            at.convert(load_lenet(SRC)[0], "mul8u.bin")
        with self.assertRaises(TypeError):
            at.ApproxConv2d.from_module(nn.Linear(2, 2), t)
        with self.assertRaises(ValueError):
            at.ApproxConv2d(1, 1, 3, padding_mode="reflect", table=t)
        with self.assertRaises(ValueError):
            at.calibrate(nn.Sequential(nn.ReLU()), [torch.rand(1)])
        c = at.ApproxConv2d(1, 2, 3, table=t, in_range=(2, 1))
        with self.assertRaises(axmul.Error) as e:
            c(torch.rand(1, 1, 5, 5))
        self.assertIn("inverted", str(e.exception))


class _Block(nn.Module):
    """A ResNet basic block with a projection shortcut, written with functional calls."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, padding=(1, 1), bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = nn.Conv2d(cin, cout, 1, stride)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.sc(x))


class _TorchvisionStyle(nn.Module):
    """The layers a torchvision-style network needs: the ResNet stem (7x7/2, BN, ReLU, max pool
    3/2/1), a residual block, an Inception-style concat, hardswish/SiLU/LeakyReLU/sigmoid, a
    ceil_mode average pool, adaptive pooling to 2x2 and x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        self.block = _Block(8, 12, 2)
        self.b1 = nn.Conv2d(12, 4, 1)
        self.b3 = nn.Conv2d(12, 4, 3, padding="same", groups=2)
        self.acts = nn.ModuleList([nn.Hardswish(), nn.SiLU(), nn.LeakyReLU(0.2)])
        self.pool = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.gap = nn.AdaptiveAvgPool2d((2, 2))
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(12 * 4, 10)

    def forward(self, x):
        x = self.block(self.stem(x))
        x = torch.cat([self.acts[0](self.b1(x)), self.acts[1](self.b3(x)),
                       self.acts[2](torch.sigmoid(self.b1(x)))], 1)
        x = self.gap(self.pool(x))
        return self.fc(self.drop(x.view(x.size(0), -1)))


class Export(unittest.TestCase):
    def test_torchvision_style_network_runs_as_torch(self):
        import axmul.export
        net = _TorchvisionStyle()
        with torch.no_grad():  # running statistics that are not the identity
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        net.eval()
        x = torch.randn(4, 3, 45, 37)
        with torch.no_grad():
            want = net(x).numpy()
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "exported")
            layers = axmul.export.torch_model(net, (3, 45, 37), out)
            kinds = {l["type"] for l in layers}
            for k in ("conv2d", "batchnorm", "maxpool", "avgpool", "adaptiveavgpool", "add",
                      "concat", "hardswish", "silu", "leakyrelu", "sigmoid", "flatten", "dense"):
                self.assertIn(k, kinds)
            np.save(os.path.join(d, "x.npy"), x.permute(0, 2, 3, 1).contiguous().numpy())
            r = subprocess.run([CONV, "run", "--model", out, "--input", os.path.join(d, "x.npy"),
                                "--output", os.path.join(d, "y.npy")], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = np.load(os.path.join(d, "y.npy"))
            err = float(np.abs(got - want).max())
            print("export: %d layers, max |axconv-test - torch| %.3g" % (len(layers), err))
            self.assertLess(err, 1e-4 * max(1.0, float(np.abs(want).max())))
            # a second export replaces the first whole; an unsupported module is refused by node
            axmul.export.torch_model(net, (3, 45, 37), out)
            with self.assertRaises(ValueError) as e:
                axmul.export.torch_model(nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU()),
                                         (3, 8, 8), os.path.join(d, "gelu"))
            self.assertIn("GELU", str(e.exception))
            self.assertFalse(os.path.exists(os.path.join(d, "gelu")))
            self.assertEqual(sorted(os.listdir(d)), ["exported", "x.npy", "y.npy"])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
