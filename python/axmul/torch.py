"""PyTorch layers over libaxmul: the approximate multiplier in nn.Conv2d and nn.Linear.

    import axmul, axmul.torch as at
    table = axmul.Table.load("tables/mul8u_drum_k4.bin")
    model = at.convert(model, table)            # nn.Conv2d -> ApproxConv2d (approx="conv")
    at.calibrate(model, batches)                # static input ranges (else per batch)
    loss.backward(); optimizer.step()           # straight-through: the float layer's gradients

The forward pass runs axmul.conv2d / axmul.dense on the CPU (CUDA where libaxmul was built with
it; tensors on a GPU are copied), the backward pass is the float layer's (the straight-through
estimator of quantization-aware training: Bengio et al. 2013; Jacob et al. 2018), so fine-tuning
works with any optimizer. Nothing is compiled against torch: any torch version with
torch.autograd.Function works (Debian's 1.13 and newer).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Table, conv2d, dense

__all__ = ["ApproxConv2d", "ApproxLinear", "convert", "calibrate"]


class _Approx:
    """What the approximate layers share: the table, the ranges and the engine's options."""

    def _approx_init(self, table, in_range, w_range, per_channel, backend, threads):
        if table is not None and not isinstance(table, Table):
            raise TypeError("table must be an axmul.Table or None, not %s" % type(table).__name__)
        self.table = table
        self.in_range = None if in_range is None else (float(in_range[0]), float(in_range[1]))
        self.w_range = None if w_range is None else (float(w_range[0]), float(w_range[1]))
        self.per_channel = bool(per_channel)
        self.backend = backend
        self.threads = int(threads)
        self._observe = None  # calibration: (min, max) seen so far, or None

    def _observe_input(self, x):
        if self._observe is not None:
            lo, hi = float(x.min()), float(x.max())
            o = self._observe
            self._observe = [lo, hi] if not o else [min(o[0], lo), max(o[1], hi)]

    def extra_repr(self):
        t = "float" if self.table is None else repr(self.table)
        r = "per batch" if self.in_range is None else "%g..%g" % self.in_range
        return super().extra_repr() + ", table=%s, input range %s" % (t, r)


def _np(t):
    """A C-contiguous float32 NumPy array of a tensor's values on the CPU (a copy only where
    the tensor is not already one)."""
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


class _ConvFn(torch.autograd.Function):
    """The LUT convolution forward, the float convolution's gradients backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        ctx.save_for_backward(x, weight, bias)
        ctx.layer = layer
        return layer._lut(x, weight, bias)

    @staticmethod
    def backward(ctx, gy):
        x, weight, bias = ctx.saved_tensors
        layer = ctx.layer
        with torch.enable_grad():
            xv = x.detach().requires_grad_(ctx.needs_input_grad[0])
            wv = weight.detach().requires_grad_(ctx.needs_input_grad[1])
            bv = None if bias is None else bias.detach().requires_grad_(ctx.needs_input_grad[2])
            y = F.conv2d(xv, wv, bv, layer.stride, layer.padding, layer.dilation, layer.groups)
            wrt = [v for v in (xv, wv, bv) if v is not None and v.requires_grad]
            grads = iter(torch.autograd.grad(y, wrt, gy) if wrt else ())
        out = [next(grads) if v is not None and v.requires_grad else None for v in (xv, wv, bv)]
        return out[0], out[1], out[2], None


class ApproxConv2d(_Approx, nn.Conv2d):
    """nn.Conv2d whose products go through a multiplier table (table None: the float layer).
    in_range: the input's quantization range (None: each batch's min/max, as TFApprox; set by
    calibrate); w_range: the weight's (None: its min/max); per_channel: per-output-channel
    weight ranges. Zero padding only (padding_mode "zeros")."""

    def __init__(self, *args, table=None, in_range=None, w_range=None, per_channel=False,
                 backend="auto", threads=0, **kwargs):
        nn.Conv2d.__init__(self, *args, **kwargs)
        if self.padding_mode != "zeros":
            raise ValueError("ApproxConv2d: padding_mode %r (only 'zeros')" % self.padding_mode)
        self._approx_init(table, in_range, w_range, per_channel, backend, threads)

    @classmethod
    def from_module(cls, m, table, **kwargs):
        """An ApproxConv2d computing m with table, sharing m's parameters (no copies)."""
        if not isinstance(m, nn.Conv2d):
            raise TypeError("from_module needs an nn.Conv2d, not %s" % type(m).__name__)
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in m.__dict__.items() if k != "_modules"})
        new._modules = m._modules
        if new.padding_mode != "zeros":
            raise ValueError("ApproxConv2d: padding_mode %r (only 'zeros')" % new.padding_mode)
        new._approx_init(table, kwargs.pop("in_range", None), kwargs.pop("w_range", None),
                         kwargs.pop("per_channel", False), kwargs.pop("backend", "auto"),
                         kwargs.pop("threads", 0))
        if kwargs:
            raise TypeError("unexpected arguments: %s" % ", ".join(kwargs))
        return new

    def _pads(self):
        if isinstance(self.padding, str):
            return self.padding  # "same" (TensorFlow's split, as torch's) or "valid"
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def _lut(self, x, weight, bias):
        """The LUT convolution of NCHW x, NCHW out (a view of the engine's NHWC output, which
        torch keeps as channels-last memory)."""
        y = conv2d(_np(x.permute(0, 2, 3, 1)), _np(weight.permute(2, 3, 1, 0)), self.table,
                   in_range=self.in_range, w_range=self.w_range, stride=tuple(self.stride),
                   padding=self._pads(), dilation=tuple(self.dilation), groups=self.groups,
                   per_channel=self.per_channel, backend=self.backend, threads=self.threads,
                   bias=None if bias is None else _np(bias))
        return torch.from_numpy(y).to(x.device).permute(0, 3, 1, 2)

    def forward(self, x):
        self._observe_input(x)
        if self.table is None:
            return nn.Conv2d.forward(self, x)
        return _ConvFn.apply(x, self.weight, self.bias, self)


class _LinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        ctx.save_for_backward(x, weight, bias)
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        y = dense(_np(x2), _np(weight.t()), layer.table, in_range=layer.in_range,
                  w_range=layer.w_range, per_channel=layer.per_channel, backend=layer.backend,
                  threads=layer.threads, bias=None if bias is None else _np(bias))
        return torch.from_numpy(y).to(x.device).reshape(*shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, gy):
        x, weight, bias = ctx.saved_tensors
        gx = gy.matmul(weight) if ctx.needs_input_grad[0] else None
        gw = gb = None
        if ctx.needs_input_grad[1]:
            gw = gy.reshape(-1, gy.shape[-1]).t().matmul(x.reshape(-1, x.shape[-1]))
        if bias is not None and ctx.needs_input_grad[2]:
            gb = gy.reshape(-1, gy.shape[-1]).sum(0)
        return gx, gw, gb, None


class ApproxLinear(_Approx, nn.Linear):
    """nn.Linear whose products go through a multiplier table; options as ApproxConv2d."""

    def __init__(self, *args, table=None, in_range=None, w_range=None, per_channel=False,
                 backend="auto", threads=0, **kwargs):
        nn.Linear.__init__(self, *args, **kwargs)
        self._approx_init(table, in_range, w_range, per_channel, backend, threads)

    @classmethod
    def from_module(cls, m, table, **kwargs):
        """An ApproxLinear computing m with table, sharing m's parameters."""
        if not isinstance(m, nn.Linear):
            raise TypeError("from_module needs an nn.Linear, not %s" % type(m).__name__)
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.__dict__.update({k: v for k, v in m.__dict__.items() if k != "_modules"})
        new._modules = m._modules
        new._approx_init(table, kwargs.pop("in_range", None), kwargs.pop("w_range", None),
                         kwargs.pop("per_channel", False), kwargs.pop("backend", "auto"),
                         kwargs.pop("threads", 0))
        if kwargs:
            raise TypeError("unexpected arguments: %s" % ", ".join(kwargs))
        return new

    def forward(self, x):
        self._observe_input(x)
        if self.table is None:
            return nn.Linear.forward(self, x)
        return _LinearFn.apply(x, self.weight, self.bias, self)


def convert(model, table, layers=None, layer_tables=None, approx="conv", **options):
    """Swaps model's nn.Conv2d (approx "conv", TFApprox's choice and axconv-test's default),
    nn.Linear ("dense") or both ("all") for their approximate versions with table, in place,
    sharing the parameters; returns model. layers: module names (as named_modules gives them)
    to convert instead of approx's kinds; layer_tables: {name: Table} per layer, which wins over
    table (table None with layer_tables approximates those layers alone). options: in_range,
    w_range, per_channel, backend, threads for every converted layer."""
    if approx not in ("conv", "dense", "all"):
        raise ValueError("approx must be 'conv', 'dense' or 'all', not %r" % (approx,))
    if table is not None and not isinstance(table, Table):
        raise TypeError("table must be an axmul.Table or None, not %s" % type(table).__name__)
    kinds = {"conv": (nn.Conv2d,), "dense": (nn.Linear,), "all": (nn.Conv2d, nn.Linear)}[approx]
    layer_tables = dict(layer_tables or {})
    named = dict(model.named_modules())
    for name in list(layer_tables) + list(layers or []):
        if name not in named:
            raise ValueError("no module named %r in the model" % name)
        if not isinstance(named[name], (nn.Conv2d, nn.Linear)):
            raise ValueError("module %r is a %s, not nn.Conv2d or nn.Linear"
                             % (name, type(named[name]).__name__))
    wanted = set(layers) if layers is not None else None
    for name, m in list(named.items()):
        if isinstance(m, _Approx) or not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        t = layer_tables.get(name)
        if t is None:
            if table is None or (wanted is not None and name not in wanted):
                continue
            if wanted is None and not isinstance(m, kinds):
                continue
            t = table
        cls = ApproxConv2d if isinstance(m, nn.Conv2d) else ApproxLinear
        new = cls.from_module(m, t, **dict(options))
        parent, _, attr = name.rpartition(".")
        setattr(named[parent] if parent else model, attr, new)
    return model


@torch.no_grad()
def calibrate(model, batches):
    """Runs model (in eval mode) over batches (an iterable of input tensors or of tuples whose
    first element is the input) and sets every approximate layer's input range to the min/max
    its input took (static ranges: a test image's result then does not depend on its
    batch-mates). Returns {layer name: (min, max)}."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, _Approx)}
    if not layers:
        raise ValueError("the model has no approximate layers (axmul.torch.convert)")
    was_training = model.training
    model.eval()
    for m in layers.values():
        m._observe = []
    try:
        seen = 0
        for b in batches:
            model(b[0] if isinstance(b, (tuple, list)) else b)
            seen += 1
        if seen == 0:
            raise ValueError("calibrate: no batches")
        out = {}
        for n, m in layers.items():
            lo, hi = m._observe
            if lo == hi:  # a constant input: widened to include 0, as the C library does
                lo, hi = (0.0, hi) if hi > 0 else (lo, 0.0)
            m.in_range = (lo, hi)
            out[n] = m.in_range
        return out
    finally:
        for m in layers.values():
            m._observe = None
        model.train(was_training)
