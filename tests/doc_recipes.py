"""Runs doc/models.md's Keras export recipe on a stand-in for TensorFlow (Debian has no
TensorFlow package): a MobileNet-style Keras model made of objects with the attributes the
recipe reads (ZeroPadding2D before a strided Conv2D without bias, BatchNormalization, ReLU(6),
DepthwiseConv2D with depth multiplier 2, GlobalAveragePooling2D, Dropout, Dense with a softmax
activation). Checks the model.json it writes layer by layer, then that axconv-test calibrates and
runs the exported model on an npy:DIR data set, and that the recipe refuses a layer it cannot
export. Usage: doc_recipes.py AXCONV_TEST TOP_SRCDIR WORKDIR. Exit 0 ok, 1 mismatch."""
import json
import os
import re
import subprocess
import sys
import types

import numpy as np


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def layer_class(kind):
    """A class whose __name__ is the Keras class name the recipe dispatches on."""
    def init(self, name, weights=(), **attrs):
        self.name, self._w = name, [np.asarray(w, dtype=np.float32) for w in weights]
        self.__dict__.update(attrs)

    return type(kind, (), {"__init__": init, "get_weights": lambda self: list(self._w)})


def activation(name):
    f = lambda x: x  # noqa: E731
    f.__name__ = name
    return f


def keras_model(rng, extra=None):
    L = {k: layer_class(k) for k in ("InputLayer", "ZeroPadding2D", "Conv2D", "BatchNormalization",
                                     "ReLU", "DepthwiseConv2D", "GlobalAveragePooling2D", "Dropout",
                                     "Dense", "Add")}

    def bn(name, c):
        return L["BatchNormalization"](name, [rng.uniform(0.5, 2, c), rng.uniform(-0.5, 0.5, c),
                                              rng.uniform(-0.2, 0.2, c), rng.uniform(0.1, 1, c)],
                                       epsilon=0.001)

    conv_common = dict(dilation_rate=(1, 1), groups=1, activation=activation("linear"))
    layers = [
        L["InputLayer"]("input_1"),
        L["ZeroPadding2D"]("conv1_pad", padding=((0, 1), (0, 1))),
        L["Conv2D"]("conv1", [rng.normal(0, 0.3, (3, 3, 3, 8))], kernel_size=(3, 3),
                    strides=(2, 2), padding="valid", use_bias=False, filters=8, **conv_common),
        bn("conv1_bn", 8),
        L["ReLU"]("conv1_relu", max_value=np.float32(6.0)),
        L["DepthwiseConv2D"]("conv_dw_1", [rng.normal(0, 0.3, (3, 3, 8, 2))], kernel_size=(3, 3),
                             strides=(1, 1), padding="same", use_bias=False,
                             **{**conv_common, "groups": 1}),
        bn("conv_dw_1_bn", 16),
        L["ReLU"]("conv_dw_1_relu", max_value=None),
        L["Conv2D"]("conv_pw_1", [rng.normal(0, 0.3, (1, 1, 16, 12)), rng.normal(0, 0.1, 12)],
                    kernel_size=(1, 1), strides=(1, 1), padding="same", use_bias=True, filters=12,
                    **{**conv_common, "activation": activation("relu")}),
        L["GlobalAveragePooling2D"]("global_pool"),
        L["Dropout"]("dropout"),
        L["Dense"]("predictions", [rng.normal(0, 0.5, (12, 10)), rng.normal(0, 0.1, 10)],
                   units=10, use_bias=True, activation=activation("softmax")),
    ]
    if extra:
        layers.insert(-1, L[extra](extra.lower()))
    return types.SimpleNamespace(name="mobile_keras", input_shape=(None, 16, 16, 3),
                                 layers=layers)


def run_recipe(src, model, out):
    text = open(os.path.join(src, "doc", "models.md")).read()
    section = text[text.index("## Exporting from Keras"):text.index("## Exporting from PyTorch")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"exported"', repr(out))
    tf = types.ModuleType("tensorflow")
    tf.keras = types.SimpleNamespace(models=types.SimpleNamespace(load_model=lambda path: model))
    saved = sys.modules.get("tensorflow")
    sys.modules["tensorflow"] = tf
    try:
        exec(compile(code, "doc/models.md (Keras export)", "exec"), {"__name__": "recipe"})
    finally:
        if saved is None:
            del sys.modules["tensorflow"]
        else:
            sys.modules["tensorflow"] = saved


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    axc, src, work = sys.argv[1:]
    rng = np.random.default_rng(5)
    out = os.path.join(work, "exported")
    os.makedirs(out)
    model = keras_model(rng)
    run_recipe(src, model, out)
    with open(os.path.join(out, "model.json")) as f:
        m = json.load(f)
    got = [(l["type"], l.get("name")) for l in m["layers"]]
    want = [("conv2d", "conv1"), ("batchnorm", "conv1_bn"), ("relu6", None),
            ("depthwise", "conv_dw_1"), ("batchnorm", "conv_dw_1_bn"), ("relu", None),
            ("conv2d", "conv_pw_1"), ("relu", None), ("globalavgpool", None),
            ("dense", "predictions"), ("softmax", None)]
    if got != want:
        fail("exported layers %s, expected %s" % (got, want))
    c1, dw, pw = m["layers"][0], m["layers"][3], m["layers"][6]
    if c1["padding"] != [0, 1, 0, 1] or "bias" in c1 or c1["strides"] != [2, 2]:
        fail("conv1 (ZeroPadding2D folded in, no bias): %s" % c1)
    wdw = np.load(os.path.join(out, dw["weights"]))
    kdw = model.layers[5].get_weights()[0]
    if wdw.shape != (3, 3, 1, 16) or dw["filters"] != 16 or dw["padding"] != "same":
        fail("depthwise: %s, weights %s" % (dw, wdw.shape))
    if not np.array_equal(wdw[:, :, 0, 2 * 5 + 1], kdw[:, :, 5, 1]):
        fail("depthwise: channel 5, multiplier 1 is not output channel 11")
    if "bias" not in pw or m["input_shape"] != [16, 16, 3]:
        fail("pointwise conv or input shape: %s %s" % (pw, m["input_shape"]))
    print("ok the Keras recipe writes the expected %d layers (padding folded, depthwise "
          "reshaped, no bias where Keras has none)" % len(got))

    data = os.path.join(work, "data")
    os.makedirs(data)
    for split, n in (("train", 64), ("test", 40)):
        np.save(os.path.join(data, "x_%s.npy" % split),
                rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))
        np.save(os.path.join(data, "y_%s.npy" % split), rng.integers(0, 10, (n, 1)))
    for cmd in ([axc, "calibrate", "--model", out, "--dataset", "npy:" + data],
                [axc, "net", "--model", out, "--dataset", "npy:" + data, "--mtab",
                 os.path.join(src, "tables", "mul8u_1JFF.bin"), "--format", "json", "--quiet"]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            fail("'%s' exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    res = json.loads(r.stdout.splitlines()[0])
    if res["images"] != 40 or res["agreement"] != 1.0:  # the exact table is the exact network
        fail("net: %s" % res)
    print("ok axconv-test calibrates and runs the exported model on 40 images")

    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    try:
        run_recipe(src, keras_model(np.random.default_rng(5), extra="Add"), bad)
    except SystemExit as e:
        if "add: Add has no axmul layer" not in str(e):
            fail("the recipe stopped with '%s'" % e)
    else:
        fail("the recipe exported a model with an Add layer")
    print("ok the recipe stops on a layer it cannot export")
    return 0


if __name__ == "__main__":
    sys.exit(main())
