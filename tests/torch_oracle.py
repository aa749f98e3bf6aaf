"""PyTorch as an independent oracle (Debian's python3-torch; optional: test_torch.sh skips without
it). Usage: torch_oracle.py AXCONV_TEST TOP_SRCDIR WORKDIR [SEED]

The default backend (auto) runs: on a machine with a GPU this checks the CUDA kernels too.
conv: axconv-test conv with an exact table against torch's own fake quantizers
  (fake_quantize_per_tensor_affine / _per_channel_affine) and conv2d. The tensors are drawn so that
  no value lies within 0.1 of a rounding tie (TensorFlow rounds ties up, torch to even; see
  doc/semantics.md) and the scales are powers of two: then every product and sum is exact in
  float64 and the engine's output must equal torch's float32-rounded result bit for bit.
net: a small CNN built in torch (conv, dilated depthwise, grouped strided conv, average and max
  pooling, two dense layers) exported as doc/models.md's PyTorch recipe says, calibrated by
  axconv-test calibrate, then run by axconv-test net on an IDX data set: the float network must
  predict what torch predicts, and the quantized network with the exact table what torch
  predicts with TensorFlow's fake quantization and doc/semantics.md's output formula in float32,
  except where torch's top two logits are too close for float rounding to decide.
Exit 0 ok, 1 mismatch, 2 setup error."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
f32 = np.float32


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        fail("'%s' exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


# ---------------------------------------------------------------- conv


def tie_free_codes(rng, shape, lo, hi):
    """Integer codes in [lo, hi] plus offsets in [-0.4, 0.4]: never near a rounding tie, and
    never beyond the range that lo and hi span."""
    k = rng.integers(lo, hi + 1, size=shape)
    u = rng.uniform(-0.4, 0.4, size=shape)
    u = np.where(k == lo, np.abs(u), np.where(k == hi, -np.abs(u), u))
    return k, u


def tie_free_tensor(rng, shape, scale, zp, qmin, qmax, channel_axis=None):
    """Values (k - zp + u) * scale for codes k in [qmin, qmax] and offsets u in [-0.4, 0.4],
    with codes qmin and qmax (u = 0) in every channel, so that the tensor's TensorFlow range is
    exactly ((qmin - zp) * scale, (qmax - zp) * scale). scale and zp are scalars or per-channel
    arrays along channel_axis."""
    k, u = tie_free_codes(rng, shape, qmin, qmax)
    axis = 0 if channel_axis is None else channel_axis
    k, u = np.moveaxis(k, axis, 0), np.moveaxis(u, axis, 0)
    k = k.reshape(len(k) if channel_axis is not None else 1, -1)
    u = u.reshape(k.shape)
    k[:, 0], u[:, 0], k[:, -1], u[:, -1] = qmin, 0, qmax, 0
    x = (k - np.reshape(zp, (-1, 1)) + u) * np.reshape(scale, (-1, 1))
    moved = np.moveaxis(np.empty(shape), axis, 0).shape
    return np.moveaxis(x.reshape(moved), 0, axis).astype(f32)


def same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def check_conv(axc, src, work, rng, case):
    n, h, w, c = case["shape"]
    kh, kw, co = case["kernel"]
    g, (sh, sw), (dh, dw) = case["groups"], case["stride"], case["dilation"]
    signed, per_ch, pad = case["signed"], case["per_channel"], case["padding"]
    xs = 2.0 ** -rng.integers(4, 9)
    zx, qmin, qmax = (0, -128, 127) if signed else (int(rng.integers(0, 256)), 0, 255)
    x = tie_free_tensor(rng, (n, h, w, c), xs, zx, qmin, qmax)
    xr = ((qmin - zx) * xs, (qmax - zx) * xs)
    # values beyond an explicit input range are clamped by both
    if case.get("clamp"):
        x.flat[1], x.flat[2] = f32(xr[0] - 3 * xs), f32(xr[1] + 2.25 * xs)
    wshape = (kh, kw, c // g, co)
    if per_ch:
        ws = 2.0 ** -rng.integers(5, 11, size=co)
        zw = np.zeros(co, dtype=np.int64) if signed else rng.integers(0, 256, size=co)
        wt = tie_free_tensor(rng, wshape, ws, zw, qmin, qmax, 3)
    else:
        ws = 2.0 ** -rng.integers(5, 11)
        zw = 0 if signed else int(rng.integers(0, 256))
        wt = tie_free_tensor(rng, wshape, ws, zw, qmin, qmax)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "w.npy"), wt)
    table = os.path.join(src, "tables", "mul8s_exact.bin" if signed else "mul8u_1JFF.bin")
    cmd = [axc, "conv", "--input", os.path.join(work, "x.npy"), "--filter",
           os.path.join(work, "w.npy"), "--mtab", table, "--stride", "%d,%d" % (sh, sw),
           "--dilation", "%d,%d" % (dh, dw), "--groups", str(g), "--padding", pad,
           "--input-range", "%.9g,%.9g" % xr, "--output", os.path.join(work, "y.npy")]
    if per_ch:
        cmd.append("--per-channel")
    run(cmd)
    y = np.load(os.path.join(work, "y.npy"))

    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    tw = torch.from_numpy(wt).permute(3, 2, 0, 1).contiguous()   # HWIO -> (out, in/g, kh, kw)
    fx = torch.fake_quantize_per_tensor_affine(tx, float(xs), zx, qmin, qmax)
    if per_ch:
        fw = torch.fake_quantize_per_channel_affine(
            tw, torch.tensor(ws, dtype=torch.float32), torch.tensor(zw, dtype=torch.int32), 0,
            qmin, qmax)
    else:
        fw = torch.fake_quantize_per_tensor_affine(tw, float(ws), zw, qmin, qmax)
    if pad == "same":
        pt, pb = same_pads(h, kh, sh, dh)
        pl, pr = same_pads(w, kw, sw, dw)
    elif pad == "valid":
        pt = pb = pl = pr = 0
    else:
        pt, pb, pl, pr = (int(v) for v in pad.split(","))
    # padded taps hold the zero point, whose fake-quantized value is 0.0
    fx = F.pad(fx.double(), (pl, pr, pt, pb))
    ref = F.conv2d(fx, fw.double(), stride=(sh, sw), dilation=(dh, dw), groups=g)
    ref = ref.permute(0, 2, 3, 1).numpy().astype(f32)
    name = case["name"]
    if y.shape != ref.shape:
        fail("conv %s: output shape %s, torch %s" % (name, y.shape, ref.shape))
    bad = np.flatnonzero(y.view(np.uint32) != ref.view(np.uint32))
    if bad.size:
        i = bad[0]
        fail("conv %s: %d of %d outputs differ from torch, first at %d: %r vs %r"
             % (name, bad.size, y.size, i, float(y.flat[i]), float(ref.flat[i])))
    print("ok conv %s: %d outputs bit-identical to torch (peak |y| %.3g)"
          % (name, y.size, float(np.abs(y).max())))


CONV_CASES = [
    dict(name="3x3 same", shape=(2, 9, 11, 6), kernel=(3, 3, 4), stride=(1, 1), dilation=(1, 1),
         padding="same", groups=1, signed=False, per_channel=False),
    dict(name="stride 2 same, odd padding at the bottom/right, 2 groups", shape=(3, 10, 7, 4),
         kernel=(3, 2, 6), stride=(2, 2), dilation=(1, 1), padding="same", groups=2,
         signed=False, per_channel=False, clamp=True),
    dict(name="depthwise dilation 2 valid", shape=(1, 12, 12, 8), kernel=(3, 3, 8),
         stride=(1, 1), dilation=(2, 2), padding="valid", groups=8, signed=False,
         per_channel=False),
    dict(name="1x1", shape=(2, 8, 9, 3), kernel=(1, 1, 5), stride=(1, 1), dilation=(1, 1),
         padding="valid", groups=1, signed=False, per_channel=False),
    dict(name="kernel == input", shape=(2, 7, 7, 4), kernel=(7, 7, 3), stride=(1, 1),
         dilation=(1, 1), padding="valid", groups=1, signed=False, per_channel=False),
    dict(name="explicit padding, stride 2x1, dilation 1x2", shape=(2, 6, 8, 4), kernel=(2, 3, 4),
         stride=(2, 1), dilation=(1, 2), padding="1,0,2,1", groups=1, signed=False,
         per_channel=False),
    dict(name="per-channel 3 groups", shape=(2, 8, 8, 6), kernel=(3, 3, 6), stride=(1, 1),
         dilation=(1, 1), padding="same", groups=3, signed=False, per_channel=True),
    dict(name="signed", shape=(2, 9, 9, 4), kernel=(3, 3, 5), stride=(1, 1), dilation=(1, 1),
         padding="same", groups=1, signed=True, per_channel=False, clamp=True),
    dict(name="signed per-channel stride 2", shape=(2, 9, 9, 4), kernel=(3, 3, 5),
         stride=(2, 2), dilation=(1, 1), padding="same", groups=1, signed=True,
         per_channel=True),
]

# ---------------------------------------------------------------- net


def plain_layer(name, a, w, b, op):
    """A conv2d/dense layer as torch computes it: op(input, weight) + bias."""
    return op(a, w) + b.reshape(b.shape + (1,) * (a.dim() - 2))


def avg_pool2(x):
    """2x2 average pooling that adds the four taps in the engine's order (row by row)."""
    return (((x[..., 0::2, 0::2] + x[..., 0::2, 1::2]) + x[..., 1::2, 0::2]) + x[..., 1::2, 1::2]) / 4


class Net(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 6, 3, padding=1)
        self.dw = torch.nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6)
        self.conv3 = torch.nn.Conv2d(6, 8, 3, stride=2, padding=1, groups=2)
        self.fc1 = torch.nn.Linear(8 * 3 * 3, 32)
        self.fc2 = torch.nn.Linear(32, 10)

    def forward(self, x, layer=None):
        """layer(name, input, weight, bias, op) computes a conv2d/dense layer, where op(a, w) is
        the layer's convolution or product without the bias; None: op(input, weight) + bias."""
        lay = layer or plain_layer
        x = lay("conv1", x, self.conv1.weight, self.conv1.bias, lambda a, w: F.conv2d(a, w, padding=1))
        x = avg_pool2(F.relu(x))
        x = lay("dw", x, self.dw.weight, self.dw.bias,
                lambda a, w: F.conv2d(a, w, padding=2, dilation=2, groups=6))
        x = F.relu(x)
        x = lay("conv3", x, self.conv3.weight, self.conv3.bias,
                lambda a, w: F.conv2d(a, w, stride=2, padding=1, groups=2))
        x = F.max_pool2d(F.relu(x), 2)
        x = torch.flatten(x, 1)
        x = F.relu(lay("fc1", x, self.fc1.weight, self.fc1.bias, F.linear))
        return lay("fc2", x, self.fc2.weight, self.fc2.bias, F.linear)


def save_tensor(out, name, t):
    """A tensor (torch or NumPy) as a '<f4' .npy file in the model folder; returns its name."""
    a = t.detach().numpy() if torch.is_tensor(t) else t
    np.save(os.path.join(out, name), np.ascontiguousarray(a).astype("<f4"))
    return name


def export_conv(out, layers, name, conv, kind="conv2d", **fields):
    """A torch Conv2d as doc/models.md exports it: HWIO weights, bias, symmetric padding."""
    p = conv.padding[0]
    layers.append({"type": kind, "name": name, "filters": conv.out_channels,
                   "kernel_size": list(conv.kernel_size), "strides": list(conv.stride),
                   "dilation": list(conv.dilation), "groups": conv.groups,
                   "padding": [p, p, p, p],
                   "weights": save_tensor(out, name + "_weights.npy", conv.weight.permute(2, 3, 1, 0)),
                   "bias": save_tensor(out, name + "_bias.npy", conv.bias), **fields})


def export_batchnorm(out, layers, name, bn):
    """A torch BatchNorm2d: weight, bias, running statistics as gamma, beta, moving_*, with eps
    (PyTorch's default is 1e-5, the format's 1e-3)."""
    stats = (("gamma", bn.weight), ("beta", bn.bias), ("moving_mean", bn.running_mean),
             ("moving_variance", bn.running_var))
    layers.append({"type": "batchnorm", "name": name, "epsilon": bn.eps,
                   **{k: save_tensor(out, "%s_%s.npy" % (name, k), t) for k, t in stats}})


def export_dense(out, layers, name, w_in_out, b):
    layers.append({"type": "dense", "name": name, "units": int(w_in_out.shape[1]),
                   "weights": save_tensor(out, name + "_weights.npy", w_in_out),
                   "bias": save_tensor(out, name + "_bias.npy", b)})


def write_model(out, name, channels, layers):
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"format": "axmul-model", "version": 1, "name": name,
                   "input_shape": [28, 28, channels], "layers": layers}, f, indent=2)


def batch_norm(m, x, engine):
    """torch's batch norm, or (engine) the engine's float32 scale and offset per channel."""
    if not engine:
        return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0, m.eps)
    scale = m.weight.float() / torch.sqrt(m.running_var.float() + np.float32(m.eps))
    offset = m.bias.float() - m.running_mean.float() * scale
    return x * scale[:, None, None] + offset[:, None, None]


def trained_looking(*bns):
    for bn in bns:  # statistics that are not identities
        torch.nn.init.uniform_(bn.weight, 1, 4)
        torch.nn.init.uniform_(bn.bias, -0.5, 2)
        torch.nn.init.uniform_(bn.running_mean, -0.2, 0.2)
        torch.nn.init.uniform_(bn.running_var, 0.01, 0.2)


def global_avg(x, engine):
    if not engine:
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
    flat = x.flatten(2)  # the engine adds the pixels in order
    acc = torch.zeros_like(flat[..., 0])
    for p in range(flat.shape[-1]):
        acc = acc + flat[..., p]
    return acc / flat.shape[-1]


class ResNet(torch.nn.Module):
    """Two residual blocks (He et al., CVPR 2016): one with an identity shortcut, one that
    halves the image with a strided 1x1 conv + batch norm on the shortcut."""

    def __init__(self, channels):
        super().__init__()
        conv, bn = torch.nn.Conv2d, torch.nn.BatchNorm2d
        self.conv1, self.bn1 = conv(channels, 8, 3, padding=1), bn(8)
        self.conv_a, self.bn_a = conv(8, 8, 3, padding=1), bn(8)
        self.conv_b, self.bn_b = conv(8, 8, 3, padding=1), bn(8)
        self.conv_c, self.bn_c = conv(8, 16, 3, stride=2, padding=1), bn(16)
        self.conv_d, self.bn_d = conv(16, 16, 3, padding=1), bn(16)
        self.conv_s, self.bn_s = conv(8, 16, 1, stride=2), bn(16)
        self.fc2 = torch.nn.Linear(16, 10)
        trained_looking(self.bn1, self.bn_a, self.bn_b, self.bn_c, self.bn_d, self.bn_s)
        for b in (self.bn_b, self.bn_d, self.bn_s):  # keep the sums' scale moderate
            torch.nn.init.uniform_(b.weight, 0.2, 0.6)

    # (name, conv, batch norm) in the order of the exported layers
    def units(self):
        return [("conv1", self.conv1, self.bn1), ("conv_a", self.conv_a, self.bn_a),
                ("conv_b", self.conv_b, self.bn_b), ("conv_c", self.conv_c, self.bn_c),
                ("conv_d", self.conv_d, self.bn_d), ("conv_s", self.conv_s, self.bn_s)]

    def forward(self, x, layer=None):
        lay = layer or plain_layer
        u = {name: (c, b) for name, c, b in self.units()}

        def unit(name, x):
            c, b = u[name]
            y = lay(name, x, c.weight, c.bias,
                    lambda a, w: F.conv2d(a, w, stride=c.stride, padding=c.padding))
            return batch_norm(b, y, layer is not None)

        stem = F.relu(unit("conv1", x))
        b1 = F.relu(unit("conv_b", F.relu(unit("conv_a", stem))) + stem)
        main = unit("conv_d", F.relu(unit("conv_c", b1)))
        out = F.relu(main + unit("conv_s", b1))
        return lay("fc2", global_avg(out, layer is not None), self.fc2.weight, self.fc2.bias,
                   F.linear)


def export_resnet(net, out):
    """doc/models.md's PyTorch recipe for a graph: "input" and "add" layers."""
    units = {name: (c, b) for name, c, b in net.units()}
    layers = []

    def unit(name, **fields):
        c, bn = units[name]
        export_conv(out, layers, name, c, **fields)
        export_batchnorm(out, layers, name + "_bn", bn)

    unit("conv1")
    layers.append({"type": "relu", "name": "stem"})
    unit("conv_a")
    layers.append({"type": "relu"})
    unit("conv_b")
    layers += [{"type": "add", "inputs": ["conv_b_bn", "stem"]}, {"type": "relu", "name": "b1"}]
    unit("conv_c")
    layers.append({"type": "relu"})
    unit("conv_d")
    unit("conv_s", input="b1")
    layers += [{"type": "add", "inputs": ["conv_d_bn", "conv_s_bn"]}, {"type": "relu"},
               {"type": "globalavgpool"}]
    export_dense(out, layers, "fc2", net.fc2.weight.T, net.fc2.bias)
    layers.append({"type": "softmax"})
    write_model(out, "resnet", net.conv1.in_channels, layers)


class MobileNet(torch.nn.Module):
    """MobileNet-v1's pattern: conv, batch norm, ReLU6; depthwise; pointwise; global average
    pooling; dense."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, stride=2, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8, eps=1e-3)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.pw = torch.nn.Conv2d(8, 16, 1)
        self.bn3 = torch.nn.BatchNorm2d(16)
        self.fc2 = torch.nn.Linear(16, 10)
        trained_looking(self.bn1, self.bn2, self.bn3)

    def forward(self, x, layer=None):
        """As Net.forward; with a layer function, batch norm and global pooling follow the
        engine's float32 arithmetic (scale and offset per channel, pixels summed in order)."""
        lay = layer or plain_layer

        def bn(m, x):
            return batch_norm(m, x, layer is not None)

        x = lay("conv1", x, self.conv1.weight, self.conv1.bias,
                lambda a, w: F.conv2d(a, w, stride=2, padding=1))
        x = F.relu6(bn(self.bn1, x))
        x = lay("dw", x, self.dw.weight, self.dw.bias, lambda a, w: F.conv2d(a, w, padding=1, groups=8))
        x = F.relu6(bn(self.bn2, x))
        x = lay("pw", x, self.pw.weight, self.pw.bias, F.conv2d)
        x = F.relu(bn(self.bn3, x))
        x = global_avg(x, layer is not None)
        return lay("fc2", x, self.fc2.weight, self.fc2.bias, F.linear)


def export_mobile(net, out):
    """doc/models.md's PyTorch recipe with batch norm, ReLU6 and global average pooling."""
    layers = []
    for name, conv, bn, act in (("conv1", net.conv1, net.bn1, "relu6"),
                                ("dw", net.dw, net.bn2, "relu6"), ("pw", net.pw, net.bn3, "relu")):
        export_conv(out, layers, name, conv)
        export_batchnorm(out, layers, name + "_bn", bn)
        layers.append({"type": act})
    layers.append({"type": "globalavgpool"})
    export_dense(out, layers, "fc2", net.fc2.weight.T, net.fc2.bias)
    layers.append({"type": "softmax"})
    write_model(out, "mobilenet", net.conv1.in_channels, layers)


def export(net, out):
    """doc/models.md, "Exporting from PyTorch"."""
    layers = []
    for name, conv, kind in (("conv1", net.conv1, "conv2d"), ("dw", net.dw, "depthwise"),
                             ("conv3", net.conv3, "conv2d")):
        export_conv(out, layers, name, conv, kind)
        layers.append({"type": "relu"})
        if name == "conv1":
            layers.append({"type": "avgpool", "pool_size": [2, 2], "strides": [2, 2]})
    layers.append({"type": "maxpool", "pool_size": [2, 2], "strides": [2, 2]})
    layers.append({"type": "flatten"})
    # PyTorch flattens C, H, W; axmul (like Keras) H, W, C
    fc_w = net.fc1.weight.detach().numpy()
    fc_w = fc_w.reshape(-1, 8, 3, 3).transpose(0, 2, 3, 1).reshape(fc_w.shape[0], -1)
    export_dense(out, layers, "fc1", fc_w.T, net.fc1.bias)
    layers.append({"type": "relu"})
    export_dense(out, layers, "fc2", net.fc2.weight.T, net.fc2.bias)
    layers.append({"type": "softmax"})
    write_model(out, "torchnet", net.conv1.in_channels, layers)


def write_idx(folder, prefix, images, labels):
    with open(os.path.join(folder, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes())
    with open(os.path.join(folder, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + labels.tobytes())


def tf_quantizer(lo, hi):
    """TensorFlow's nudged range (doc/semantics.md) as (scale, zero point)."""
    lo, hi = f32(lo), f32(hi)
    scale = f32((hi - lo) / f32(255))
    zf = f32(f32(0) - lo / scale)
    zp = 0 if zf < 0 else 255 if zf > 255 else int(np.floor(zf + f32(0.5)))
    return scale, zp


def tf_codes(a, lo, hi, axis):
    """TensorFlow's FakeQuant codes minus the zero point (float64, exact) and the scales, in
    torch float32 operations, per tensor (one lo/hi) or per channel along axis. torch's own
    fake_quantize rounds ties to even where TensorFlow rounds them up, and the network's input
    pixels p/255 hit exact ties whenever the calibrated range is not [0, 1]."""
    sz = [tf_quantizer(l, h) for l, h in zip(lo, hi)]
    shape = [1] * a.dim()
    shape[axis] = -1
    scale = torch.tensor([v[0] for v in sz], dtype=torch.float32).reshape(shape)
    zp = torch.tensor([v[1] for v in sz], dtype=torch.float32).reshape(shape)
    nmin, nmax = -zp * scale, (255 - zp) * scale
    c = torch.minimum(torch.maximum(a.float(), nmin), nmax)
    q = torch.floor((c - nmin) * (1 / scale) + 0.5).clamp(max=255)
    return (q - zp).double(), scale


def margins(logits):
    top = torch.topk(logits, 2, dim=1).values
    return (top[:, 0] - top[:, 1]).numpy()


def check_net(axc, src, work, rng, kind, n=400):
    """Net: 1 channel, the data set as IDX files (mnist:DIR); the others 3 channels as
    Keras-style .npy arrays (npy:DIR)."""
    channels = 1 if kind is Net else 3
    torch.manual_seed(int(rng.integers(0, 2 ** 31)))
    model = os.path.join(work, "model_" + kind.__name__)
    data = os.path.join(work, "data_" + kind.__name__)
    os.makedirs(model, exist_ok=True)
    os.makedirs(data, exist_ok=True)
    spec = ("mnist:" if channels == 1 else "npy:") + data
    # images: blurred blobs of random brightness
    coarse = torch.rand(2 * n, channels, 7, 7, dtype=torch.float64) ** 2
    img = F.interpolate(coarse, scale_factor=4, mode="bilinear", align_corners=False)
    img = img * torch.rand(2 * n, 1, 1, 1, dtype=torch.float64) * 255 / img.amax((2, 3), True)
    img = img.round().clamp(0, 255).to(torch.uint8)
    x = img.double() / 255
    # A random network tends to predict one class for everything: standardize each class's
    # logit over the images so that the predictions spread over the classes. Some draws leave
    # too few ReLUs alive for that; the next draw of weights is taken then.
    for draw in range(20):
        net = kind(channels).double().eval()
        with torch.no_grad():
            lf = net(x[:n])
            mu, sd = lf.mean(0), lf.std(0)
            if float(sd.min()) < 1e-6:
                continue
            net.fc2.weight /= sd[:, None]
            net.fc2.bias.copy_((net.fc2.bias - mu) / sd)
            net.float()
            net.double()  # the float32 weights that export() writes
            lf = net(x[:n])
        pred_f = lf.argmax(1).numpy().astype(np.uint8)
        classes = len(set(pred_f.tolist()))
        if classes >= 5:
            break
    else:
        fail("net: 20 random networks predicted fewer than 5 classes on the test images")
    {Net: export, MobileNet: export_mobile, ResNet: export_resnet}[kind](net, model)
    if channels == 1:
        write_idx(data, "t10k", img[:n].numpy(), pred_f)
        write_idx(data, "train", img[n:].numpy(), np.zeros(n, dtype=np.uint8))
    else:  # NHWC, labels (N, 1) of int64 as Keras' CIFAR-10 arrays (whose labels are uint8)
        nhwc = img.permute(0, 2, 3, 1).contiguous().numpy()
        np.save(os.path.join(data, "x_test.npy"), nhwc[:n])
        np.save(os.path.join(data, "y_test.npy"), pred_f.astype(np.int64).reshape(-1, 1))
        np.save(os.path.join(data, "x_train.npy"), nhwc[n:])
        np.save(os.path.join(data, "y_train.npy"), np.zeros((n, 1), dtype=np.int64))
    run([axc, "calibrate", "--model", model, "--dataset", spec, "--limit", str(n)])
    with open(os.path.join(model, "model.json")) as f:
        ranges = {l["name"]: l["input_range"] for l in json.load(f)["layers"] if "input_range" in l}
    # the calibrated ranges are the min/max of each layer's input in torch's float network
    seen = {}

    def record(name, a, w, b, op):
        seen[name] = (a.min().item(), a.max().item())
        return plain_layer(name, a, w, b, op)

    with torch.no_grad():
        net(x[n:], record)
    for name, (lo, hi) in seen.items():
        r = ranges.get(name)
        if r is None or abs(r[0] - lo) > 1e-5 * max(1, abs(lo)) or abs(r[1] - hi) > 1e-5 * max(1, abs(hi)):
            fail("net: calibrated range of %s is %s, torch sees [%g, %g]" % (name, r, lo, hi))
    print("ok net %s (%s): calibrate wrote the input ranges torch's float network sees (%d layers)"
          % (kind.__name__, spec.split(":")[0], len(seen)))

    table = os.path.join(src, "tables", "mul8u_1JFF.bin")
    fnet = kind(channels).float().eval()
    fnet.load_state_dict(net.state_dict())
    fnet.float()
    batch = 128
    for approx, per_ch, batch_ranges in (("conv", False, False), ("all", True, False),
                                         ("conv", False, True)):
        pfile = os.path.join(work, "pred.txt")
        cmd = [axc, "net", "--model", model, "--dataset", spec, "--mtab", table,
               "--approx", approx, "--predictions", pfile, "--format", "json", "--quiet",
               "--batch", str(batch)]
        if per_ch:
            cmd.append("--per-channel")
        if batch_ranges:
            cmd += ["--ranges", "batch"]
        res = json.loads(run(cmd).splitlines()[0])
        # float network: the labels are torch's float predictions (float64; ours float32, whose
        # rounding the batch norms amplify up to 40 times)
        close_f = int((margins(lf) < 1e-4 * float(lf.std())).sum())
        wrong_f = round((1 - res["float_accuracy"]) * n)
        if wrong_f > close_f:
            fail("net: float network disagrees with torch on %d of %d images (%d near ties)"
                 % (wrong_f, n, close_f))

        # The quantized network in float32 as doc/semantics.md defines it: exact integer sums of
        # code products, y = (s_x * s_w) * (float)sum + bias.
        def layer(name, a, w, b, op):
            if name.startswith("fc") and approx == "conv":
                return plain_layer(name, a, w, b, op)
            bias = b.reshape(b.shape + (1,) * (a.dim() - 2))
            if batch_ranges:  # TFApprox: the batch's min/max, widened to 0 if constant
                lo, hi = a.min().item(), a.max().item()
                lo, hi = (min(lo, 0.0), max(hi, 0.0)) if lo == hi else (lo, hi)
            else:
                lo, hi = ranges[name]
            ca, sa = tf_codes(a, [lo], [hi], 0)
            # TensorFlow's weight ranges as they are (one without 0 is nudged, not widened)
            dims = tuple(range(1, w.dim()))
            if per_ch:
                cw, sw = tf_codes(w, w.amin(dims).tolist(), w.amax(dims).tolist(), 0)
            else:
                cw, sw = tf_codes(w, [w.min().item()], [w.max().item()], 0)
            osc = sa.reshape(()) * sw.reshape(-1)
            osc = osc.reshape(bias.shape) if per_ch else osc.reshape(())
            return osc * op(ca, cw).float() + bias

        with torch.no_grad():
            lq = torch.cat([fnet(x[i:min(i + batch, n)].float(), layer)
                            for i in range(0, n, batch)])
        pred_q = lq.argmax(1).numpy()
        ours = np.loadtxt(pfile, dtype=np.int64).reshape(-1, 3)[:, 1]
        # float32 rounding (dense layers summed in another order) decides only near ties
        tol = 1e-4 * float(lq.std())
        diff = np.flatnonzero(ours != pred_q)
        far = [i for i in diff if margins(lq)[i] > tol]
        what = "%s %dx28x28 --approx %s%s%s" % (kind.__name__, channels, approx, " --per-channel" if per_ch else "",
                                             " --ranges batch" if batch_ranges else "")
        if far:
            i = far[0]
            fail("net %s: %d images disagree with torch's fake-quantized network, %d of them "
                 "with a top-2 margin above %.3g (image %d: %d vs %d, margin %.3g)"
                 % (what, diff.size, len(far), tol, i, ours[i], pred_q[i], margins(lq)[i]))
        print("ok net %s: float network = torch on %d of %d images, exact-table network = "
              "torch's fake-quantized one on %d (%d classes)"
              % (what, n - wrong_f, n, n - diff.size, classes))


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    axc, src, work = sys.argv[1:4]
    seed = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    print("seed %d (torch %s)" % (seed, torch.__version__))
    rng = np.random.default_rng(seed)
    for case in CONV_CASES:
        check_conv(axc, src, work, rng, case)
    for kind in (Net, MobileNet, ResNet):
        check_net(axc, src, work, rng, kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
