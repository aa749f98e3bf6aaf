"""The Python package (python/axmul) against the C tools: metrics equal axmul-verify's JSON, conv2d
and dense equal axconv-test's outputs bit for bit, the peer table formats round-trip and equal
their definitions (written out independently here with NumPy), bad arguments raise.

Run by tests/test_python.sh: python3 tests/python_check.py BUILDDIR SRCDIR [FIXTURES] [SEED]."""

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import axmul

BUILD, SRC = sys.argv[1], sys.argv[2]
FIXTURES = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else random.randrange(2**31)
VERIFY = os.path.join(BUILD, "verify", "axmul-verify")
CONV = os.path.join(BUILD, "conv", "axconv-test")
TABLES = os.path.join(SRC, "tables")
print("seed", SEED, "(python3 tests/python_check.py BUILD SRC FIXTURES SEED replays it)")


def run(*args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


class Metrics(unittest.TestCase):
    def test_metrics_equal_verify(self):
        paths = sorted(os.path.join(TABLES, f) for f in os.listdir(TABLES) if f.endswith(".bin"))
        if FIXTURES and os.path.isdir(FIXTURES):
            paths += sorted(os.path.join(FIXTURES, f) for f in os.listdir(FIXTURES)
                            if f.endswith(".bin"))
        rows = json.loads(run(VERIFY, "--format", "json", *paths))
        self.assertEqual(len(rows), len(paths))
        for row in rows:
            m = axmul.Table.load(row["file"]).metrics()
            for k, v in row.items():
                if k == "file":
                    continue
                self.assertEqual(m[k], v, "%s: %s" % (row["file"], k))

    def test_weighted(self):
        t = axmul.Table.load(os.path.join(TABLES, "mul8u_trunc_k8.bin"))
        d = [0.0] * 256
        d[3], d[200] = 1.0, 3.0
        m = t.metrics(dist_a=d, dist_b=d)
        self.assertTrue(m["weighted"])
        self.assertNotEqual(m["mae"], t.metrics()["mae"])
        with self.assertRaises(ValueError):
            t.metrics(dist_a=[1.0] * 10)
        with self.assertRaises(axmul.Error) as e:
            t.metrics(dist_a=[0.0] * 256)
        self.assertEqual(e.exception.name, "ERR_INVALID_ARGUMENT")


class Conv(unittest.TestCase):
    CASES = [
        dict(shape=(2, 11, 13, 6), kernel=(3, 3, 8), table="mul8u_drum_k4.bin"),
        dict(shape=(1, 17, 15, 4), kernel=(5, 3, 6), table="mul8u_mitchell.bin", stride=(2, 1),
             dilation=(1, 2), padding="same"),
        dict(shape=(3, 9, 9, 12), kernel=(3, 3, 12), table="mul8s_drum_k4.bin", groups=12,
             per_channel=True),
        dict(shape=(2, 8, 8, 6), kernel=(2, 2, 6), table="mul8u_bam_h2v8.bin", groups=3,
             padding=(1, 0, 2, 1), in_range=(-2.0, 3.0), w_range=(-1.0, 1.0)),
        dict(shape=(4, 6, 6, 16), kernel=(1, 1, 9), table="mul8s_mitchell.bin", padding="valid"),
    ]

    def cli_args(self, c, xp, wp, yp):
        a = [CONV, "conv", "--input", xp, "--filter", wp, "--output", yp, "--mtab",
             os.path.join(TABLES, c["table"])]
        if "stride" in c:
            a += ["--stride", "%d,%d" % c["stride"]]
        if "dilation" in c:
            a += ["--dilation", "%d,%d" % c["dilation"]]
        p = c.get("padding", "same")
        a += ["--padding", p if isinstance(p, str) else "%d,%d,%d,%d" % p]
        a += ["--groups", str(c.get("groups", 1))]
        if c.get("per_channel"):
            a.append("--per-channel")
        if "in_range" in c:
            a += ["--input-range", "%r,%r" % c["in_range"]]
        if "w_range" in c:
            a += ["--filter-range", "%r,%r" % c["w_range"]]
        return a

    def test_conv2d_equals_tool(self):
        rng = np.random.default_rng(SEED)
        with tempfile.TemporaryDirectory() as d:
            for i, c in enumerate(self.CASES):
                n, h, w, ch = c["shape"]
                kh, kw, co = c["kernel"]
                g = c.get("groups", 1)
                x = rng.uniform(-1, 2, (n, h, w, ch)).astype(np.float32)
                wt = rng.uniform(-1, 1, (kh, kw, ch // g, co)).astype(np.float32)
                xp, wp, yp = (os.path.join(d, "%s%d.npy" % (s, i)) for s in "xwy")
                np.save(xp, x)
                np.save(wp, wt)
                run(*self.cli_args(c, xp, wp, yp))
                t = axmul.Table.load(os.path.join(TABLES, c["table"]))
                y = axmul.conv2d(x, wt, t, in_range=c.get("in_range"), w_range=c.get("w_range"),
                                 stride=c.get("stride", (1, 1)), padding=c.get("padding", "same"),
                                 dilation=c.get("dilation", (1, 1)), groups=g,
                                 per_channel=c.get("per_channel", False))
                self.assertTrue(same_bits(y, np.load(yp)), "case %d: %s" % (i, c))

    def test_dense_is_a_1x1_conv(self):
        rng = np.random.default_rng(SEED + 1)
        t = axmul.Table.load(os.path.join(TABLES, "mul8u_trunc_k4.bin"))
        x = rng.uniform(0, 3, (7, 37)).astype(np.float32)
        w = rng.uniform(-1, 1, (37, 11)).astype(np.float32)
        y = axmul.dense(x, w, t, per_channel=True)
        c = axmul.conv2d(x.reshape(7, 1, 1, 37), w.reshape(1, 1, 37, 11), t, padding="valid",
                         per_channel=True)
        self.assertTrue(same_bits(y, c.reshape(7, 11)))
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "x.npy"), x.reshape(7, 1, 1, 37))
            np.save(os.path.join(d, "w.npy"), w.reshape(1, 1, 37, 11))
            run(CONV, "conv", "--input", os.path.join(d, "x.npy"), "--filter",
                os.path.join(d, "w.npy"), "--mtab", os.path.join(TABLES, "mul8u_trunc_k4.bin"),
                "--per-channel", "--padding", "valid", "--output", os.path.join(d, "y.npy"))
            self.assertTrue(same_bits(y, np.load(os.path.join(d, "y.npy")).reshape(7, 11)))

    def test_exact_table_and_float(self):
        rng = np.random.default_rng(SEED + 2)
        x = rng.uniform(-1, 1, (2, 10, 10, 3)).astype(np.float32)
        w = rng.uniform(-1, 1, (3, 3, 3, 4)).astype(np.float32)
        y = axmul.conv2d(x, w, axmul.Table.exact())
        r = axmul.conv2d_fakequant(x, w)
        f = axmul.conv2d_float(x, w)
        self.assertLess(np.abs(y - r).max(), 1e-4 * np.abs(r).max())
        self.assertLess(np.abs(f - r).max(), 0.1 * np.abs(r).max())  # quantization error only
        self.assertGreater(np.abs(f - r).max(), 0)

    def test_bad_arguments(self):
        t = axmul.Table.exact()
        x = np.zeros((1, 4, 4, 2), np.float32)
        w = np.zeros((3, 3, 2, 2), np.float32)
        with self.assertRaises(TypeError):
            axmul.conv2d(x.tolist(), w, t)
        with self.assertRaises(TypeError):
            axmul.conv2d(x.astype(np.float64), w, t)
        with self.assertRaises(TypeError):
            axmul.conv2d(x, w, "mul8u_1JFF.bin")
        with self.assertRaises(ValueError):
            axmul.conv2d(np.zeros((1, 4, 8, 2), np.float32)[:, :, ::2], w, t)  # not contiguous
        with self.assertRaises(ValueError):
            axmul.conv2d(x[0], w, t)
        with self.assertRaises(ValueError):
            axmul.conv2d(x, w, t, groups=2)
        with self.assertRaises(ValueError):
            axmul.conv2d(x, w, t, padding="full")
        with self.assertRaises(ValueError):
            axmul.conv2d(x, w, t, stride="2")
        with self.assertRaises(ValueError):
            axmul.conv2d(x, w, t, backend="gpu")
        with self.assertRaises(ValueError):
            axmul.conv2d(x, w, t, per_channel=True, w_range=(0, 1))
        with self.assertRaises(axmul.Error) as e:
            axmul.conv2d(x, w, t, in_range=(3, 2))
        self.assertEqual(e.exception.name, "ERR_RANGE")
        self.assertIn("inverted", str(e.exception))
        with self.assertRaises(axmul.Error) as e:
            axmul.conv2d(x, np.zeros((9, 9, 2, 2), np.float32), t, padding="valid")
        self.assertIn("larger than the padded input", str(e.exception))
        bad = x.copy()
        bad[0, 1, 2, 1] = np.nan
        with self.assertRaises(axmul.Error) as e:
            axmul.conv2d(bad, w, t)
        self.assertEqual(e.exception.name, "ERR_NONFINITE")
        with self.assertRaises(axmul.Error) as e:
            axmul.Table.load("/nonexistent/mul8u_x.bin")
        self.assertEqual(e.exception.name, "ERR_NOT_FOUND")
        self.assertIn("/nonexistent/mul8u_x.bin", str(e.exception))
        with self.assertRaises(axmul.Error) as e:
            axmul.Table.from_bytes(b"\0" * 1000)
        self.assertIn("130072 bytes short", str(e.exception))
        with self.assertRaises(ValueError):
            axmul.dense(np.zeros((2, 3), np.float32), np.zeros((4, 2), np.float32), t)


class Formats(unittest.TestCase):
    def test_round_trips_and_definitions(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("mul8s_drum_k4.bin", "mul8s_mitchell.bin", "mul8u_drum_k4.bin"):
                t = axmul.Table.load(os.path.join(TABLES, name))
                p = t.products()
                signed = t.signed
                for fmt, ext in (("torchapprox", "npy"), ("approxtorch", "txt"), ("adapt", "h")):
                    out = os.path.join(d, "%s.%s" % (name, ext))
                    if fmt == "approxtorch" and not signed:
                        with self.assertRaises(axmul.Error) as e:
                            t.save(out, fmt)
                        self.assertEqual(e.exception.name, "ERR_UNSUPPORTED")
                        continue
                    t.save(out, fmt)
                    # the format's definition, independently
                    v = np.arange(256)
                    v[v >= 128] -= 256  # the operand of byte i of a signed table
                    if fmt == "torchapprox":
                        a = np.load(out)
                        self.assertEqual((a.dtype, a.shape), (np.dtype("int32"), (256, 256)))
                        if signed:
                            want = p
                        else:
                            s = np.sign(v) + (v == 0)
                            want = np.outer(s, s) * p[np.ix_(np.abs(v), np.abs(v))]
                        self.assertTrue(np.array_equal(a, want), name)
                    elif fmt == "approxtorch":
                        a = np.loadtxt(out, dtype=np.int64)
                        order = (np.arange(256) + 128) % 256  # rows and columns -128..127
                        self.assertTrue(np.array_equal(a, p[np.ix_(order, order)]), name)
                    else:
                        text = read(out)
                        self.assertIn("int16_t lut[256][256]" if signed else
                                      "uint16_t lut[256][256]", text)
                        body = text[text.index("=") + 1:]
                        nums = np.array([int(s) for s in re.findall(r"-?\d+", body)])
                        self.assertTrue(np.array_equal(nums.reshape(256, 256), p), name)
                    back = axmul.Table.load(out, format=fmt)
                    if signed or fmt == "adapt":
                        self.assertEqual(back.to_bytes(), t.to_bytes(), (name, fmt))
                        self.assertEqual(back.signed, signed)
                    else:  # TorchApprox keeps only the signed (sign-magnitude) view
                        self.assertTrue(back.signed)
                    # axmul-verify --convert writes the same bytes
                    cli = os.path.join(d, "cli." + ext)
                    run(VERIFY, "--convert", fmt, "-o", cli, os.path.join(TABLES, name))
                    self.assertEqual(read(cli, "rb"), read(out, "rb"))

    def test_from_array_and_bad_files(self):
        p = axmul.Table.exact(signed=True).products()
        t = axmul.Table.from_array(p, signed=True)
        self.assertEqual(t.to_bytes(), axmul.Table.exact(signed=True).to_bytes())
        with self.assertRaises(ValueError):
            axmul.Table.from_array(p[:10])
        with self.assertRaises(ValueError):
            axmul.Table.from_array(p, signed=False)  # negative products
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "short.txt")
            write(f, "1 2 3\n")
            with self.assertRaises(axmul.Error) as e:
                axmul.Table.load(f)
            self.assertIn("3 entries", str(e.exception))
            f = os.path.join(d, "big.npy")
            np.save(f, np.full((256, 256), 40000, np.int32))
            with self.assertRaises(axmul.Error) as e:
                axmul.Table.load(f)
            self.assertIn("entry (0, 0) = 40000", str(e.exception))
            f = os.path.join(d, "x.h")
            write(f, "int table[4] = {1, 2};\n")
            with self.assertRaises(axmul.Error) as e:
                axmul.Table.load(f)
            self.assertIn("lut[256][256]", str(e.exception))
        with self.assertRaises(ValueError):
            axmul.Table.exact().save("/tmp/x", format="pickle")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
