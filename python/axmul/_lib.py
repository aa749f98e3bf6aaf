"""ctypes bindings of libaxmul's public C API (lib/axmul*.h): the library, its structures and the
prototypes this package calls. Internal to the package; see axmul/__init__.py for the API."""

import ctypes
import ctypes.util
import os

# The structures below mirror lib/axmul_conv.h and lib/axmul_metrics.h field for field; the
# library reports its own sizes (axmul_struct_size) and a mismatch stops the import.


class Range(ctypes.Structure):
    _fields_ = [("min", ctypes.c_float), ("max", ctypes.c_float)]


class QParams(ctypes.Structure):
    _fields_ = [
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int32),
        ("nudged_min", ctypes.c_float),
        ("nudged_max", ctypes.c_float),
        ("is_signed", ctypes.c_int),
        ("degenerate", ctypes.c_int),
    ]


class ConvDesc(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int), ("h", ctypes.c_int), ("w", ctypes.c_int), ("c", ctypes.c_int),
        ("kh", ctypes.c_int), ("kw", ctypes.c_int), ("co", ctypes.c_int),
        ("stride_h", ctypes.c_int), ("stride_w", ctypes.c_int),
        ("dilation_h", ctypes.c_int), ("dilation_w", ctypes.c_int),
        ("padding", ctypes.c_int),
        ("pad_top", ctypes.c_int), ("pad_bottom", ctypes.c_int),
        ("pad_left", ctypes.c_int), ("pad_right", ctypes.c_int),
        ("groups", ctypes.c_int),
        ("input_range_set", ctypes.c_int), ("input_range", Range),
        ("filter_range_set", ctypes.c_int), ("filter_range", Range),
        ("per_channel", ctypes.c_int), ("channel_ranges", ctypes.POINTER(Range)),
        ("backend", ctypes.c_int), ("threads", ctypes.c_int),
        ("input_name", ctypes.c_char_p), ("filter_name", ctypes.c_char_p),
        ("bias", ctypes.POINTER(ctypes.c_float)),
    ]


class DenseDesc(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int), ("in_", ctypes.c_int), ("out", ctypes.c_int),
        ("input_range_set", ctypes.c_int), ("input_range", Range),
        ("filter_range_set", ctypes.c_int), ("filter_range", Range),
        ("per_channel", ctypes.c_int), ("channel_ranges", ctypes.POINTER(Range)),
        ("backend", ctypes.c_int), ("threads", ctypes.c_int),
        ("input_name", ctypes.c_char_p), ("filter_name", ctypes.c_char_p),
        ("bias", ctypes.POINTER(ctypes.c_float)),
    ]


class ConvInfo(ctypes.Structure):
    _fields_ = [
        ("backend", ctypes.c_int),
        ("path", ctypes.c_char_p),
        ("input_q", QParams),
        ("filter_q", QParams),
        ("macs", ctypes.c_uint64),
        ("device_seconds", ctypes.c_double),
        ("work_bytes", ctypes.c_size_t),
    ]


class Metrics(ctypes.Structure):
    _fields_ = [
        ("is_signed", ctypes.c_int),
        ("weighted", ctypes.c_int),
        ("mae", ctypes.c_double), ("mae_percent", ctypes.c_double),
        ("wce", ctypes.c_double), ("wce_percent", ctypes.c_double),
        ("ep_percent", ctypes.c_double),
        ("mse", ctypes.c_double),
        ("mre_percent", ctypes.c_double), ("wcre_percent", ctypes.c_double),
        ("mean_error", ctypes.c_double), ("error_std", ctypes.c_double),
        ("min_error", ctypes.c_double), ("max_error", ctypes.c_double),
        ("commutative", ctypes.c_int),
        ("zero_preserving", ctypes.c_int),
        ("monotone_violations", ctypes.c_long),
    ]


STRUCTS = {
    "axmul_range": Range,
    "axmul_qparams": QParams,
    "axmul_conv_desc": ConvDesc,
    "axmul_conv_info": ConvInfo,
    "axmul_dense_desc": DenseDesc,
    "axmul_metrics": Metrics,
}

# enums (lib/axmul_conv.h, lib/axmul_table.h)
BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}
PADDING_SAME, PADDING_VALID, PADDING_EXPLICIT = 0, 1, 2
FORMATS = {"bin": 0, "torchapprox": 1, "approxtorch": 2, "adapt": 3}


def _candidates():
    """Where libaxmul may be: AXMUL_LIBRARY, the build tree the package sits in, the install
    prefix it was installed with, then the system's search path."""
    env = os.environ.get("AXMUL_LIBRARY")
    if env:
        yield env
        return
    # the build tree first: a package used from its source tree must not load an older
    # installed library
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "lib", ".libs", "libaxmul.so")
    try:
        from . import _config  # written by `make install`

        yield os.path.join(_config.LIBDIR, "libaxmul.so.0")
    except ImportError:
        pass
    found = ctypes.util.find_library("axmul")
    if found:
        yield found


def load():
    """The loaded library, with its prototypes declared; OSError naming every place tried."""
    tried = []
    lib = None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as exc:
            tried.append(f"{path} ({exc})")
    if lib is None:
        raise OSError(
            "libaxmul not found; tried: " + "; ".join(tried) +
            ". Set AXMUL_LIBRARY to the path of libaxmul.so, or install axmul (make install)"
        )
    _declare(lib)
    for name, struct in STRUCTS.items():
        size = lib.axmul_struct_size(name.encode())
        if size != ctypes.sizeof(struct):
            raise OSError(
                f"{lib._name}: {name} is {size} bytes in the library, {ctypes.sizeof(struct)} in "
                "this Python package: they come from different axmul versions"
            )
    return lib


def _declare(lib):
    p = ctypes.c_void_p
    i = ctypes.c_int
    fp = ctypes.POINTER(ctypes.c_float)
    dp = ctypes.POINTER(ctypes.c_double)
    protos = {
        "axmul_version": (ctypes.c_char_p, []),
        "axmul_struct_size": (ctypes.c_size_t, [ctypes.c_char_p]),
        "axmul_strerror": (ctypes.c_char_p, [i]),
        "axmul_error_detail": (ctypes.c_char_p, []),
        "axmul_table_create": (i, [i, ctypes.POINTER(p)]),
        "axmul_table_create_exact": (i, [i, ctypes.POINTER(p)]),
        "axmul_table_from_bytes": (i, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, i,
                                       ctypes.POINTER(p)]),
        "axmul_table_import": (i, [ctypes.c_char_p, i, i, ctypes.POINTER(p)]),
        "axmul_table_export": (i, [p, i, ctypes.c_char_p]),
        "axmul_table_format_guess": (i, [ctypes.c_char_p]),
        "axmul_table_free": (None, [p]),
        "axmul_table_to_bytes": (None, [p, ctypes.c_char_p]),
        "axmul_table_is_signed": (i, [p]),
        "axmul_table_sha256": (None, [p, ctypes.c_char_p]),
        "axmul_metrics_compute": (i, [p, dp, dp, ctypes.POINTER(Metrics)]),
        "axmul_conv_desc_init": (None, [ctypes.POINTER(ConvDesc)]),
        "axmul_dense_desc_init": (None, [ctypes.POINTER(DenseDesc)]),
        "axmul_conv_output_shape": (i, [ctypes.POINTER(ConvDesc), ctypes.POINTER(i),
                                        ctypes.POINTER(i)]),
        "axmul_conv2d": (i, [ctypes.POINTER(ConvDesc), p, fp, fp, fp, ctypes.POINTER(ConvInfo)]),
        "axmul_conv2d_ref": (i, [ctypes.POINTER(ConvDesc), p, fp, fp, fp,
                                 ctypes.POINTER(ConvInfo)]),
        "axmul_conv2d_float": (i, [ctypes.POINTER(ConvDesc), fp, fp, fp]),
        "axmul_conv2d_fakequant_float": (i, [ctypes.POINTER(ConvDesc), i, fp, fp, fp]),
        "axmul_dense": (i, [ctypes.POINTER(DenseDesc), p, fp, fp, fp, ctypes.POINTER(ConvInfo)]),
        "axmul_cuda_available": (i, []),
    }
    for name, (res, args) in protos.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
