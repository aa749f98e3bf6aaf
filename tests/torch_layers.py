"""The layer kinds that torchvision-style networks need, against PyTorch's own functions: padded
and ceil_mode max/average pooling (count_include_pad either way), adaptive average pooling to
sizes other than 1, LeakyReLU, sigmoid, SiLU, hardswish, concat and an add of three, each as a
one-layer model (then flatten and an identity dense layer) run by `axconv-test run`.

usage: torch_layers.py AXCONV-TEST WORKDIR SEED"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

axc, work, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(seed)
N, H, W, C = 5, 8, 10, 3
x = rng.normal(0, 2, size=(N, H, W, C)).astype(np.float32)
xt = torch.from_numpy(x).permute(0, 3, 1, 2)
failed = 0


def check(what, layers, want, tol):
    """Runs the layers on x; want: torch's NCHW result; tol: 0 for bit-identical."""
    global failed
    want = want.permute(0, 2, 3, 1).numpy() if want.dim() == 4 else want.numpy()
    n = int(np.prod(want.shape[1:]))
    d = os.path.join(work, "m")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "i.npy"), np.eye(n, dtype=np.float32))
    model = {"format": "axmul-model", "version": 1, "input_shape": [H, W, C],
             "layers": layers + [{"type": "flatten"},
                                 {"type": "dense", "name": "id", "units": n, "weights": "i.npy"}]}
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model, f)
    np.save(os.path.join(work, "x.npy"), x)
    r = subprocess.run([axc, "run", "--model", d, "--input", os.path.join(work, "x.npy"),
                        "--output", os.path.join(work, "y.npy")], capture_output=True, text=True)
    if r.returncode:
        print("FAIL %s: %s" % (what, r.stderr.strip()))
        failed += 1
        return
    got = np.load(os.path.join(work, "y.npy")).reshape(want.shape)
    err = float(np.abs(got - want).max())
    ok = err == 0 if tol == 0 else err <= tol
    print("%s %s: %s, max |difference| %.3g" % ("ok" if ok else "FAIL", what, want.shape, err))
    failed += not ok


for k, s, p, ceil in ((3, 2, 1, True), (3, 2, 1, False), (2, 3, 1, True), (3, 3, 0, True)):
    check("maxpool k%d s%d p%d ceil %s" % (k, s, p, ceil),
          [{"type": "maxpool", "pool_size": k, "strides": s, "padding": p, "ceil_mode": ceil}],
          F.max_pool2d(xt, k, s, p, ceil_mode=ceil), 0)
    for cip in (True, False):
        check("avgpool k%d s%d p%d ceil %s count_include_pad %s" % (k, s, p, ceil, cip),
              [{"type": "avgpool", "pool_size": k, "strides": s, "padding": p, "ceil_mode": ceil,
                "count_include_pad": cip}],
              F.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=cip), 0)
for o in ((3, 4), (5, 7), (8, 10), (1, 1)):
    check("adaptiveavgpool %s" % (o,), [{"type": "adaptiveavgpool", "output_size": list(o)}],
          F.adaptive_avg_pool2d(xt, o), 1e-6)
# float formulas that libm and torch round differently: within a few ulps of |x| <= 8
for name, fn, extra in (("leakyrelu", lambda t: F.leaky_relu(t, 0.1), {"alpha": 0.1}),
                        ("sigmoid", torch.sigmoid, {}), ("silu", F.silu, {}),
                        ("hardswish", F.hardswish, {})):
    check(name, [dict(type=name, **extra)], fn(xt), 0 if name == "leakyrelu" else 4e-6)
check("concat of three and add of three",
      [{"type": "leakyrelu", "name": "a", "alpha": 0.2}, {"type": "sigmoid", "name": "s"},
       {"type": "hardswish", "name": "h", "input": "a"},
       {"type": "add", "name": "sum", "inputs": ["a", "s", "h"]},
       {"type": "concat", "inputs": ["sum", "a", "h"]}],
      (lambda a: torch.cat([a + torch.sigmoid(a) + F.hardswish(a), a, F.hardswish(a)], 1))(
          F.leaky_relu(xt, 0.2)), 4e-6)
sys.exit(1 if failed else 0)
