"""Benchmark: the shipped LeNet-5 on the 10,000 Fashion-MNIST test images with a multiplier
table, as a converted torch model (axmul.torch) and as `axconv-test net`, in one run.

    PYTHONPATH=python python3 bench/python_lenet.py [TABLE.bin] [--threads N] [--runs R]

Prints the median seconds of R runs of each (net: its "seconds" column, the table's pass over the
images; torch: the converted model's evaluation in batches of 1000, under torch.no_grad), their
ratio, and whether the predictions agree. Run from the source tree (it finds the build's
axconv-test in conv/, the model in models/)."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import axmul
import axmul.torch as at

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests"))
from lenet_torch import load_lenet, test_images  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("table", nargs="?", default=os.path.join(SRC, "tables", "mul8u_drum_k4.bin"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    x, _ = test_images()
    m, ranges = load_lenet(SRC)
    at.convert(m, axmul.Table.load(a.table), threads=a.threads)
    for c in ("conv1", "conv2"):
        getattr(m, c).in_range = ranges[c]
    m.eval()
    conv = os.path.join(SRC, "conv", "axconv-test")
    net, tor = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(a.runs):  # alternating, so that both see the same machine
            args = [conv, "net", "--model", os.path.join(SRC, "models", "lenet5-fashion-mnist"),
                    "--mtab", a.table, "--format", "csv", "--quiet",
                    "--predictions", os.path.join(d, "p.txt")]
            if a.threads:
                args += ["--threads", str(a.threads)]
            out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
            net.append(float(out.strip().split("\n")[-1].split(",")[-1]))
            t0 = time.perf_counter()
            with torch.no_grad():
                pred = torch.cat([m(x[i:i + 1000]).argmax(1) for i in range(0, 10000, 1000)])
            tor.append(time.perf_counter() - t0)
        want = np.loadtxt(os.path.join(d, "p.txt"), dtype=np.int64)[:, 1]
    same = int((pred.numpy() == want).sum())
    n, t = statistics.median(net), statistics.median(tor)
    print("table %s, threads %s, %d runs" % (a.table, a.threads or "all", a.runs))
    print("axconv-test net  %.3f s (median; runs %s)" % (n, " ".join("%.3f" % v for v in net)))
    print("axmul.torch      %.3f s (median; runs %s)" % (t, " ".join("%.3f" % v for v in tor)))
    print("ratio torch/net  %.2f" % (t / n))
    print("predictions      %d of 10000 equal" % same)


if __name__ == "__main__":
    main()
