"""A PyTorch network as an axmul model folder (model.json and one .npy file per tensor).

    import torch, axmul.export
    net = MyNet(); net.load_state_dict(torch.load("my_net.pt")); net.eval()
    axmul.export.torch_model(net, (3, 32, 32), "exported")   # (C, H, W) of one input image
    # then: axconv-test calibrate --model exported; axconv-test net --model exported ...

The module is traced with torch.fx (a state_dict alone has no graph: load it into its module
first), so sequential networks, residual blocks (x + y, torch.add), torch.cat along the
channels, torch.flatten / x.view(n, -1) and the functional forms (F.relu, F.max_pool2d, ...)
export alike. Weights are reordered to the format's layouts: convolutions OIHW -> HWIO, dense
layers (out, in) -> (in, out), and the first dense layer after a flatten from PyTorch's C, H, W
order to the format's H, W, C. What the format cannot express (a stride in an
nn.Upsample, a custom Python op, ...) raises ValueError naming the node. Needs only torch and
NumPy, not libaxmul.
"""

import json
import operator
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.fx import symbolic_trace
from torch.fx.passes.shape_prop import ShapeProp

__all__ = ["torch_model"]

_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Sigmoid: "sigmoid", nn.SiLU: "silu",
                nn.Hardswish: "hardswish", nn.LeakyReLU: "leakyrelu"}
_ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid",
              F.sigmoid: "sigmoid", F.silu: "silu", F.hardswish: "hardswish",
              F.leaky_relu: "leakyrelu"}
_SKIP = (nn.Dropout, nn.Identity)


def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def _f32(t):
    return t.detach().cpu().to(torch.float32).numpy()


class _Exporter:
    def __init__(self, gm, out):
        self.gm, self.out = gm, out
        self.modules = dict(gm.named_modules())
        self.layers = []
        self.name_of = {}      # fx node -> the layer whose output it is (None: the input)
        self.chw = {}          # fx node of a flatten -> the (C, H, W) it flattened
        self.used = set()

    def fail(self, node, why):
        raise ValueError("axmul.export: node %s (%s): %s" % (node.name, node.target, why))

    def unique(self, base):
        base = "".join(c if c.isalnum() or c in "_-" else "_" for c in base)[:56] or "layer"
        name, k = base, 1
        while name in self.used:
            k += 1
            name = "%s_%d" % (base, k)
        self.used.add(name)
        return name

    def save(self, name, arr):
        np.save(os.path.join(self.out, name), np.ascontiguousarray(arr, dtype="<f4"))
        return name

    def add(self, node, layer, src):
        """Appends layer for node; src: the fx node it reads (the chain's previous layer needs
        no "input")."""
        layer["name"] = self.unique(layer.get("name") or node.name)
        prev = self.layers[-1]["name"] if self.layers else None
        if src is not None and "inputs" not in layer:
            s = self.name_of.get(src, "?")
            if s is None and self.layers:
                self.fail(node, "it reads the network's input after other layers")
            if s is not None and s != prev:
                layer["input"] = s
        self.layers.append(layer)
        self.name_of[node] = layer["name"]

    def alias(self, node, src):
        """node is src's activation (dropout and identity at inference)."""
        self.name_of[node] = self.name_of[src]
        if src in self.chw:
            self.chw[node] = self.chw[src]

    def src_of(self, node, arg):
        if not isinstance(arg, torch.fx.Node) or arg not in self.name_of:
            self.fail(node, "its input is not an activation of the network")
        return arg

    def conv(self, node, m):
        if m.padding_mode != "zeros":
            self.fail(node, "padding_mode %r (only zeros)" % m.padding_mode)
        w = _f32(m.weight).transpose(2, 3, 1, 0)  # OIHW -> HWIO (I = in / groups)
        name = self.unique(node.name)
        self.used.discard(name)
        layer = {"type": "conv2d", "name": name, "filters": int(m.out_channels),
                 "kernel_size": _pair(m.kernel_size), "strides": _pair(m.stride),
                 "dilation": _pair(m.dilation), "groups": int(m.groups),
                 "weights": self.save(name + "_weights.npy", w)}
        if isinstance(m.padding, str):
            if m.padding == "same":  # torch's "same": the extra pixel at the end, as TF's
                kh, kw = layer["kernel_size"]
                dh, dw = layer["dilation"]
                th, tw = dh * (kh - 1), dw * (kw - 1)
                layer["padding"] = [th // 2, th - th // 2, tw // 2, tw - tw // 2]
            else:
                layer["padding"] = "valid"
        else:
            ph, pw = _pair(m.padding)
            layer["padding"] = [ph, ph, pw, pw]
        if m.bias is not None:
            layer["bias"] = self.save(name + "_bias.npy", _f32(m.bias))
        return layer

    def linear(self, node, m, src):
        w = _f32(m.weight)  # (out, in)
        chw = self.chw.get(src)
        if chw:  # rows in PyTorch's C, H, W order -> the format's H, W, C
            c, h, ww = chw
            w = w.reshape(-1, c, h, ww).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        name = self.unique(node.name)
        self.used.discard(name)
        layer = {"type": "dense", "name": name, "units": int(m.out_features),
                 "weights": self.save(name + "_weights.npy", w.T)}
        if m.bias is not None:
            layer["bias"] = self.save(name + "_bias.npy", _f32(m.bias))
        return layer

    def batchnorm(self, node, m):
        if not m.track_running_stats or m.running_mean is None:
            self.fail(node, "a batch norm without running statistics")
        name = self.unique(node.name)
        self.used.discard(name)
        c = m.num_features
        g = _f32(m.weight) if m.affine else np.ones(c, np.float32)
        b = _f32(m.bias) if m.affine else np.zeros(c, np.float32)
        return {"type": "batchnorm", "name": name, "epsilon": float(m.eps),
                "gamma": self.save(name + "_gamma.npy", g),
                "beta": self.save(name + "_beta.npy", b),
                "moving_mean": self.save(name + "_moving_mean.npy", _f32(m.running_mean)),
                "moving_variance": self.save(name + "_moving_variance.npy", _f32(m.running_var))}

    @staticmethod
    def pool(kind, k, s, p, ceil, count_pad=None):
        s = k if s is None or (not isinstance(s, int) and len(s) == 0) else s
        layer = {"type": kind, "pool_size": _pair(k), "strides": _pair(s),
                 "padding": _pair(p), "ceil_mode": bool(ceil)}
        if count_pad is not None:
            layer["count_include_pad"] = bool(count_pad)
        return layer

    @staticmethod
    def adaptive(size, shape):
        o = _pair(size) if size is not None else None
        if o is None or any(v is None for v in o):
            o = [shape[2] if o is None or o[0] is None else o[0],
                 shape[3] if o is None or o[1] is None else o[1]]
        if o == [1, 1]:
            return {"type": "globalavgpool"}  # (flat: a following flatten is a no-op)
        return {"type": "adaptiveavgpool", "output_size": o}

    def run(self):
        for node in self.gm.graph.nodes:
            shape = tuple(node.meta["tensor_meta"].shape) if "tensor_meta" in node.meta else None
            if node.op == "placeholder":
                self.name_of[node] = None
                continue
            if node.op == "output":
                continue
            args = node.args
            if node.op == "call_module":
                m = self.modules[node.target]
                src = self.src_of(node, args[0])
                if isinstance(m, _SKIP):
                    self.alias(node, src)
                    continue
                if isinstance(m, nn.Conv2d):
                    layer = self.conv(node, m)
                elif isinstance(m, nn.Linear):
                    layer = self.linear(node, m, src)
                elif isinstance(m, nn.BatchNorm2d):
                    layer = self.batchnorm(node, m)
                elif type(m) in _ACT_MODULES:
                    layer = {"type": _ACT_MODULES[type(m)]}
                    if isinstance(m, nn.LeakyReLU):
                        layer["alpha"] = float(m.negative_slope)
                elif isinstance(m, nn.MaxPool2d):
                    if _pair(m.dilation) != [1, 1] or m.return_indices:
                        self.fail(node, "a dilated max pool or one returning indices")
                    layer = self.pool("maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode)
                elif isinstance(m, nn.AvgPool2d):
                    if m.divisor_override:
                        self.fail(node, "divisor_override")
                    layer = self.pool("avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                      m.count_include_pad)
                elif isinstance(m, nn.AdaptiveAvgPool2d):
                    layer = self.adaptive(m.output_size, args[0].meta["tensor_meta"].shape)
                elif isinstance(m, nn.Flatten):
                    layer = self.flatten(node, src, m.start_dim, m.end_dim)
                elif isinstance(m, nn.Softmax):
                    layer = {"type": "softmax"}
                else:
                    self.fail(node, "module %s has no counterpart among the layer kinds"
                              % type(m).__name__)
                self.add(node, layer, src)
            elif node.op in ("call_function", "call_method"):
                self.function(node, shape)
            else:
                self.fail(node, "a %s node" % node.op)

    def flatten(self, node, src, start, end=-1):
        shape = src.meta["tensor_meta"].shape
        if start != 1 or end not in (-1, 3):
            self.fail(node, "a flatten other than of each image")
        if len(shape) == 4:
            self.chw[node] = (int(shape[1]), int(shape[2]), int(shape[3]))
        return {"type": "flatten"}

    def function(self, node, shape):
        t, args, kw = node.target, node.args, node.kwargs
        if t in _ACT_FUNCS or t in ("relu", "sigmoid"):
            src = self.src_of(node, args[0])
            layer = {"type": _ACT_FUNCS.get(t, t)}
            if layer["type"] == "leakyrelu":
                layer["alpha"] = float(args[1] if len(args) > 1 else kw.get("negative_slope", 0.01))
            self.add(node, layer, src)
        elif t in (operator.add, torch.add, "add", operator.iadd):
            ins = [a for a in args if isinstance(a, torch.fx.Node)]
            if len(ins) != 2 or len(args) != 2:
                self.fail(node, "an add of something other than two activations")
            # a chain of adds (a + b + c) stays two-input adds: the same sums in the same order
            names = [self.name_of[self.src_of(node, a)] for a in ins]
            if None in names:
                self.fail(node, "an add of the network's input")
            self.add(node, {"type": "add", "inputs": names}, None)
        elif t is torch.cat:
            ins, dim = args[0], args[1] if len(args) > 1 else kw.get("dim", 0)
            if dim not in (1, -3) or len(ins) < 2:
                self.fail(node, "a concatenation other than along the channels")
            names = [self.name_of[self.src_of(node, a)] for a in ins]
            self.add(node, {"type": "concat", "inputs": names}, None)
        elif t in (torch.flatten, "flatten"):
            src = self.src_of(node, args[0])
            start = args[1] if len(args) > 1 else kw.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kw.get("end_dim", -1)
            self.add(node, self.flatten(node, src, start, end), src)
        elif t in ("view", "reshape") and shape is not None and len(shape) == 2:
            src = self.src_of(node, args[0])
            self.add(node, self.flatten(node, src, 1), src)
        elif t in (F.max_pool2d, F.avg_pool2d):
            src = self.src_of(node, args[0])
            a = list(args[1:]) + [None] * 6
            k = kw.get("kernel_size", a[0])
            s = kw.get("stride", a[1])
            p = kw.get("padding", a[2] if a[2] is not None else 0)
            if t is F.max_pool2d:
                ceil = kw.get("ceil_mode", a[4] or False)
                layer = self.pool("maxpool", k, s, p, ceil)
            else:
                ceil = kw.get("ceil_mode", a[3] or False)
                cip = kw.get("count_include_pad", True if a[4] is None else a[4])
                layer = self.pool("avgpool", k, s, p, ceil, cip)
            self.add(node, layer, src)
        elif t is F.adaptive_avg_pool2d:
            src = self.src_of(node, args[0])
            size = args[1] if len(args) > 1 else kw.get("output_size")
            self.add(node, self.adaptive(size, args[0].meta["tensor_meta"].shape), src)
        elif t in (F.dropout, "contiguous"):
            self.alias(node, self.src_of(node, args[0]))
        elif t in (getattr, "size"):
            pass  # x.size(0) of x.view(x.size(0), -1): shape arithmetic, no layer
        else:
            self.fail(node, "no counterpart among the layer kinds")


def torch_model(module, input_shape, out_dir, name=None):
    """Writes module (a torch.nn.Module in eval mode; its float32 weights) as an axmul model
    folder out_dir (created; written beside and renamed into place, so a failed export leaves no
    half-written folder). input_shape: (C, H, W) of one image. Returns the list of layers
    written. Raises ValueError naming the node that has no counterpart in the format."""
    c, h, w = (int(v) for v in input_shape)
    module = module.eval()
    gm = symbolic_trace(module)
    ShapeProp(gm).propagate(torch.zeros(1, c, h, w))
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        ex = _Exporter(gm, tmp)
        ex.run()
        model = {"format": "axmul-model", "version": 1,
                 "name": name or type(module).__name__, "input_shape": [h, w, c],
                 "layers": ex.layers}
        with open(os.path.join(tmp, "model.json"), "w") as f:
            json.dump(model, f, indent=1)
        if os.path.isdir(out_dir):  # the previous export goes once the new one is whole
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(out_dir, os.path.join(old, "x"))
            os.rename(tmp, out_dir)
            _rmtree(old)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        _rmtree(tmp)
        raise
    return ex.layers


def _rmtree(d):
    for root, dirs, files in os.walk(d, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for x in dirs:
            os.rmdir(os.path.join(root, x))
    if os.path.isdir(d):
        os.rmdir(d)
