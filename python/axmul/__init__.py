"""axmul: approximate 8x8 multipliers from Python.

Pure Python over libaxmul's C API (ctypes); nothing is compiled against Python, NumPy or torch.
The library is found through AXMUL_LIBRARY (a path to libaxmul.so), else where `make install`
put it, else in the build tree this package belongs to (PYTHONPATH=python), else on the system's
library path.

    import axmul
    t = axmul.Table.load("tables/mul8u_drum_k4.bin")
    print(t.metrics()["mae_percent"])
    y = axmul.conv2d(x_nhwc, w_hwio, t, stride=2, padding="same")

axmul.torch holds the PyTorch layers (ApproxConv2d, ApproxLinear, convert, calibrate).
Errors of the C library are raised as axmul.Error with its message; arguments of the wrong type
as TypeError, of the wrong shape or value as ValueError.
"""

import ctypes

from . import _lib

__all__ = [
    "Error", "Table", "conv2d", "conv2d_float", "conv2d_fakequant", "dense", "version",
    "cuda_available", "FORMATS",
]

_L = _lib.load()

FORMATS = tuple(_lib.FORMATS)

_STATUS = {
    0: "OK", 1: "ERR_INVALID_ARGUMENT", 2: "ERR_IO", 3: "ERR_NOT_FOUND", 4: "ERR_IS_DIRECTORY",
    5: "ERR_PERMISSION", 6: "ERR_SIZE", 7: "ERR_FORMAT", 8: "ERR_RANGE", 9: "ERR_SHAPE",
    10: "ERR_NONFINITE", 11: "ERR_NOMEM", 12: "ERR_OVERFLOW", 13: "ERR_UNSUPPORTED",
    14: "ERR_NOT_BUILT", 15: "ERR_NO_DEVICE", 16: "ERR_CUDA", 17: "ERR_MISMATCH",
}


class Error(Exception):
    """A failure reported by libaxmul: status (the axmul_status code), name ("ERR_RANGE", ...)
    and the library's message, which names the file or argument."""

    def __init__(self, status, detail):
        self.status = status
        self.name = _STATUS.get(status, "ERR_%d" % status)
        self.detail = detail
        super().__init__(detail or _L.axmul_strerror(status).decode())


def _check(status):
    if status != 0:
        raise Error(status, _L.axmul_error_detail().decode(errors="replace"))


def version():
    """The library's version, e.g. "0.1.0"."""
    return _L.axmul_version().decode()


def cuda_available():
    """Whether the CUDA backend can run here (built and a usable device)."""
    return _L.axmul_cuda_available() == 0


def _path(p):
    import os

    return os.fsencode(p)


class Table:
    """A 256 x 256 multiplier table (entry a*256+b: product of activation a and weight b),
    unsigned (mul8u) or signed (mul8s). Owns a C table; freed with the object."""

    __slots__ = ("_t",)

    def __init__(self, handle):
        self._t = ctypes.c_void_p(handle)

    def __del__(self):
        t = getattr(self, "_t", None)
        if t and t.value:
            _L.axmul_table_free(t)
            self._t = ctypes.c_void_p()

    @classmethod
    def load(cls, path, signed=None, format=None):
        """Reads a table: .bin (EvoApprox/TFApprox), or another framework's format ("torchapprox"
        .npy, "approxtorch" .txt, "adapt" .h; default: from the extension). signed: None takes
        it from the name (mul8s_) for .bin and AdaPT headers of plain int."""
        if not isinstance(path, (str, bytes)) and not hasattr(path, "__fspath__"):
            raise TypeError("path must be a str or os.PathLike, not %s" % type(path).__name__)
        fmt = _L.axmul_table_format_guess(_path(path)) if format is None else _format(format)
        sg = -1 if signed is None else (1 if signed else 0)
        h = ctypes.c_void_p()
        _check(_L.axmul_table_import(_path(path), fmt, sg, ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def exact(cls, signed=False):
        """The exact multiplier (a*b; the int16 product of int8 operands when signed)."""
        h = ctypes.c_void_p()
        _check(_L.axmul_table_create_exact(1 if signed else 0, ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def from_bytes(cls, data, signed=False, name="<bytes>"):
        """A table from its 131,072 little-endian bytes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes, not %s" % type(data).__name__)
        data = bytes(data)
        h = ctypes.c_void_p()
        _check(_L.axmul_table_from_bytes(data, len(data), name.encode(), 1 if signed else 0,
                                         ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def from_array(cls, products, signed=False):
        """A table from a 256 x 256 array of products (row = activation byte, column = weight
        byte, two's-complement bytes for signed tables)."""
        import numpy as np

        a = np.asarray(products)
        if a.shape != (256, 256):
            raise ValueError("products must have shape (256, 256), not %s" % (a.shape,))
        lo, hi = (-32768, 32767) if signed else (0, 65535)
        if a.dtype.kind not in "iu" or a.min() < lo or a.max() > hi:
            raise ValueError("products must be integers in %d..%d" % (lo, hi))
        return cls.from_bytes(a.astype("<i4").astype("<u2").tobytes(), signed=signed)

    def save(self, path, format="bin"):
        """Writes the table atomically in format ("bin", "torchapprox", "approxtorch",
        "adapt")."""
        _check(_L.axmul_table_export(self._t, _format(format), _path(path)))

    def to_bytes(self):
        """The 131,072 bytes of the .bin."""
        buf = ctypes.create_string_buffer(131072)
        _L.axmul_table_to_bytes(self._t, buf)
        return buf.raw

    def products(self):
        """The 256 x 256 products as a NumPy int32 array (row = activation byte)."""
        import numpy as np

        a = np.frombuffer(self.to_bytes(), dtype="<u2").reshape(256, 256)
        return (a.astype(np.int16) if self.signed else a).astype(np.int32)

    @property
    def signed(self):
        return bool(_L.axmul_table_is_signed(self._t))

    @property
    def sha256(self):
        buf = ctypes.create_string_buffer(65)
        _L.axmul_table_sha256(self._t, buf)
        return buf.value.decode()

    def metrics(self, dist_a=None, dist_b=None):
        """The error metrics axmul-verify prints (EvoApprox definitions; doc/format.md): a dict
        of mae, mae_percent, wce, wce_percent, ep_percent, mse, mre_percent, wcre_percent,
        mean_error, error_std, min_error, max_error, commutative, zero_preserving,
        monotone_violations, signed, weighted. dist_a/dist_b: optional 256 operand weights."""
        m = _lib.Metrics()
        da, db = _dist(dist_a, "dist_a"), _dist(dist_b, "dist_b")
        _check(_L.axmul_metrics_compute(self._t, da, db, ctypes.byref(m)))
        out = {name: getattr(m, name) for name, _ in _lib.Metrics._fields_}
        out["signed"] = bool(out.pop("is_signed"))
        out["weighted"] = bool(out["weighted"])
        out["commutative"] = bool(out["commutative"])
        out["zero_preserving"] = bool(out["zero_preserving"])
        return out

    def __repr__(self):
        return "<axmul.Table %s %s>" % ("mul8s" if self.signed else "mul8u", self.sha256[:12])


def _format(name):
    if name not in _lib.FORMATS:
        raise ValueError("format must be one of %s, not %r" % (", ".join(_lib.FORMATS), name))
    return _lib.FORMATS[name]


def _dist(d, what):
    if d is None:
        return None
    vals = [float(v) for v in d]
    if len(vals) != 256:
        raise ValueError("%s must have 256 entries, not %d" % (what, len(vals)))
    return (ctypes.c_double * 256)(*vals)


# ---------------------------------------------------------------- convolution and dense


def _f32(a, what, ndim):
    """A's data as a float pointer, zero-copy: a C-contiguous float32 NumPy array of ndim
    dimensions (TypeError for another type or dtype, ValueError for another layout)."""
    import numpy as np

    if not isinstance(a, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray, not %s" % (what, type(a).__name__))
    if a.dtype != np.float32:
        raise TypeError("%s must be float32, not %s" % (what, a.dtype))
    if a.ndim != ndim:
        raise ValueError("%s must have %d dimensions, not %d %s" % (what, ndim, a.ndim, a.shape))
    if not a.flags.c_contiguous:
        raise ValueError("%s must be C-contiguous (numpy.ascontiguousarray)" % what)
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def _pair(v, what):
    if isinstance(v, int):
        return v, v
    try:
        a, b = v
        return int(a), int(b)
    except (TypeError, ValueError):
        raise ValueError("%s must be an int or a pair of ints, not %r" % (what, v)) from None


def _range(r, what):
    if r is None:
        return None
    try:
        lo, hi = r
        return _lib.Range(float(lo), float(hi))
    except (TypeError, ValueError):
        raise ValueError("%s must be (min, max), not %r" % (what, r)) from None


def _table(t):
    if not isinstance(t, Table):
        raise TypeError("table must be an axmul.Table, not %s" % type(t).__name__)
    return t


def _backend(b):
    if b not in _lib.BACKENDS:
        raise ValueError("backend must be one of auto, cpu, cuda, not %r" % (b,))
    return _lib.BACKENDS[b]


def _conv_desc(x, w, in_range, w_range, stride, padding, dilation, groups, per_channel,
               channel_ranges, backend, threads, bias=None):
    import numpy as np

    px, pw = _f32(x, "x", 4), _f32(w, "w", 4)
    d = _lib.ConvDesc()
    _L.axmul_conv_desc_init(ctypes.byref(d))
    d.n, d.h, d.w, d.c = x.shape
    d.kh, d.kw = w.shape[0], w.shape[1]
    d.co = w.shape[3]
    if not isinstance(groups, int) or groups < 1:
        raise ValueError("groups must be a positive int, not %r" % (groups,))
    if w.shape[2] * groups != x.shape[3]:
        raise ValueError("w has %d input channels per group x %d groups, x has %d channels"
                         % (w.shape[2], groups, x.shape[3]))
    d.groups = groups
    d.stride_h, d.stride_w = _pair(stride, "stride")
    d.dilation_h, d.dilation_w = _pair(dilation, "dilation")
    if padding == "same":
        d.padding = _lib.PADDING_SAME
    elif padding == "valid":
        d.padding = _lib.PADDING_VALID
    else:
        try:
            t, b, l, r = padding
        except (TypeError, ValueError):
            raise ValueError("padding must be 'same', 'valid' or (top, bottom, left, right), "
                             "not %r" % (padding,)) from None
        d.padding = _lib.PADDING_EXPLICIT
        d.pad_top, d.pad_bottom, d.pad_left, d.pad_right = int(t), int(b), int(l), int(r)
    keep = _common(d, in_range, w_range, per_channel, channel_ranges, d.co, backend, threads,
                   bias)
    oh, ow = ctypes.c_int(), ctypes.c_int()
    _check(_L.axmul_conv_output_shape(ctypes.byref(d), ctypes.byref(oh), ctypes.byref(ow)))
    y = np.empty((d.n, oh.value, ow.value, d.co), dtype=np.float32)
    return d, px, pw, y, keep


def _common(d, in_range, w_range, per_channel, channel_ranges, co, backend, threads, bias=None):
    """Ranges, backend, threads and the bias into descriptor d; returns what must outlive the
    call."""
    r = _range(in_range, "in_range")
    if r is not None:
        d.input_range_set, d.input_range = 1, r
    keep = None
    if per_channel:
        if w_range is not None:
            raise ValueError("per_channel and w_range exclude each other")
        d.per_channel = 1
        if channel_ranges is not None:
            rs = [_range(c, "channel_ranges[%d]" % i) for i, c in enumerate(channel_ranges)]
            if len(rs) != co:
                raise ValueError("channel_ranges must have %d entries, not %d" % (co, len(rs)))
            keep = (_lib.Range * co)(*rs)
            d.channel_ranges = keep
    else:
        wr = _range(w_range, "w_range")
        if wr is not None:
            d.filter_range_set, d.filter_range = 1, wr
    d.backend = _backend(backend)
    if not isinstance(threads, int) or threads < 0:
        raise ValueError("threads must be an int >= 0, not %r" % (threads,))
    d.threads = threads
    if bias is not None:
        d.bias = _f32(bias, "bias", 1)
        if bias.shape[0] != co:
            raise ValueError("bias must have %d entries, not %d" % (co, bias.shape[0]))
    return keep


def conv2d(x, w, table, in_range=None, w_range=None, stride=(1, 1), padding="same",
           dilation=(1, 1), groups=1, per_channel=False, channel_ranges=None, backend="auto",
           threads=0, bias=None):
    """The fake-quantized LUT convolution (TensorFlow FakeQuant semantics, doc/semantics.md) of
    x (N, H, W, C) with the HWIO filter w (KH, KW, C / groups, CO), both C-contiguous float32
    NumPy arrays (read without a copy), multiplying through table. Ranges default to each
    tensor's min/max; padding "same" (TensorFlow's), "valid" or (top, bottom, left, right);
    bias: optional CO float32 values added to the outputs. Returns y (N, OH, OW, CO) float32,
    bit-identical to axconv-test conv."""
    _table(table)
    d, px, pw, y, keep = _conv_desc(x, w, in_range, w_range, stride, padding, dilation, groups,
                                    per_channel, channel_ranges, backend, threads, bias)
    _check(_L.axmul_conv2d(ctypes.byref(d), table._t, px, pw,
                           y.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), None))
    del keep
    return y


def conv2d_fakequant(x, w, signed=False, in_range=None, w_range=None, stride=(1, 1),
                     padding="same", dilation=(1, 1), groups=1, per_channel=False,
                     channel_ranges=None):
    """The float convolution of the fake-quantized tensors: what an exact multiplier gives
    (conv2d's reference). Arguments as for conv2d, the quantization as for a table of the given
    signedness."""
    d, px, pw, y, keep = _conv_desc(x, w, in_range, w_range, stride, padding, dilation, groups,
                                    per_channel, channel_ranges, "cpu", 0)
    _check(_L.axmul_conv2d_fakequant_float(ctypes.byref(d), 1 if signed else 0, px, pw,
                                           y.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
    del keep
    return y


def conv2d_float(x, w, stride=(1, 1), padding="same", dilation=(1, 1), groups=1):
    """The exact float32 convolution (im2col + SGEMM), no quantization."""
    d, px, pw, y, keep = _conv_desc(x, w, None, None, stride, padding, dilation, groups, False,
                                    None, "cpu", 0)
    _check(_L.axmul_conv2d_float(ctypes.byref(d), px, pw,
                                 y.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
    return y


def dense(x, w, table, in_range=None, w_range=None, per_channel=False, channel_ranges=None,
          backend="auto", threads=0, bias=None):
    """The LUT dense layer: x (N, IN) times w (IN, OUT), C-contiguous float32, through table;
    the semantics of a 1x1 conv2d; bias: optional OUT float32 values added. Returns (N, OUT)
    float32."""
    import numpy as np

    _table(table)
    px, pw = _f32(x, "x", 2), _f32(w, "w", 2)
    if w.shape[0] != x.shape[1]:
        raise ValueError("w has %d rows, x has %d columns" % (w.shape[0], x.shape[1]))
    d = _lib.DenseDesc()
    _L.axmul_dense_desc_init(ctypes.byref(d))
    d.n, d.in_ = x.shape
    d.out = w.shape[1]
    keep = _common(d, in_range, w_range, per_channel, channel_ranges, d.out, backend, threads,
                   bias)
    y = np.empty((d.n, d.out), dtype=np.float32)
    _check(_L.axmul_dense(ctypes.byref(d), table._t, px, pw,
                          y.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), None))
    del keep
    return y
