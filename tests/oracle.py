"""Independent NumPy oracle for axconv-test conv (written from doc/semantics.md, sharing no code
with the C engine). Usage: oracle.py X.npy W.npy Y.npy TABLE.bin STRIDE DIL PAD GROUPS
where PAD is same, valid or t,b,l,r. Checks (1) the LUT convolution bit for bit against the
integer formula, (2) with the exact table, the float conv of the fake-quantized tensors within
relative L-inf 1e-6. Exit 0 ok, 1 mismatch."""
import sys
import numpy as np

f32 = np.float32


def nudge(lo, hi):
    lo, hi = f32(lo), f32(hi)
    scale = f32((hi - lo) / f32(255))
    zp_from_min = f32(f32(0) - lo / scale)
    if zp_from_min < 0:
        zp = 0
    elif zp_from_min > 255:
        zp = 255
    else:  # round half away from zero
        zp = int(np.floor(zp_from_min + f32(0.5))) if zp_from_min >= 0 else int(np.ceil(zp_from_min - f32(0.5)))
    nmin = f32(f32(0 - zp) * scale)
    nmax = f32(f32(255 - zp) * scale)
    return scale, zp, nmin, nmax


def quantize(x, scale, nmin, nmax):
    c = np.clip(x, nmin, nmax).astype(f32)
    inv = f32(f32(1) / scale)
    q = np.floor((c - nmin).astype(f32) * inv + f32(0.5)).astype(np.int64)
    return np.minimum(q, 255)


def data_range(a):
    lo, hi = f32(a.min()), f32(a.max())
    if lo == hi:
        lo, hi = (f32(0), hi) if lo > 0 else (lo, f32(0))
    return lo, hi


def main():
    x = np.load(sys.argv[1]).astype(f32)
    w = np.load(sys.argv[2]).astype(f32)
    y = np.load(sys.argv[3]).astype(f32)
    t = np.fromfile(sys.argv[4], dtype="<u2").astype(np.int64).reshape(256, 256)
    s, d, pad, g = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
    n, h, wd, c = x.shape
    kh, kw, cin, co = w.shape
    sx, zx, xmin, xmax = nudge(*data_range(x))
    sw, zw, wmin, wmax = nudge(*data_range(w))
    qx, qw = quantize(x, sx, xmin, xmax), quantize(w, sw, wmin, wmax)
    ekh, ekw = (kh - 1) * d + 1, (kw - 1) * d + 1
    if pad == "same":
        oh, ow = -(-h // s), -(-wd // s)
        th, tw = max((oh - 1) * s + ekh - h, 0), max((ow - 1) * s + ekw - wd, 0)
        pt, pb, pl, pr = th // 2, th - th // 2, tw // 2, tw - tw // 2
    elif pad == "valid":
        pt = pb = pl = pr = 0
    else:
        pt, pb, pl, pr = (int(v) for v in pad.split(","))
    oh, ow = (h + pt + pb - ekh) // s + 1, (wd + pl + pr - ekw) // s + 1
    # padded taps hold the input zero point; fake-quantized padding is 0.0
    qxp = np.full((n, h + pt + pb, wd + pl + pr, c), zx, dtype=np.int64)
    qxp[:, pt:pt + h, pl:pl + wd, :] = qx
    fx = (qx.astype(f32) * sx + xmin).astype(f32)
    fxp = np.zeros((n, h + pt + pb, wd + pl + pr, c), dtype=np.float64)
    fxp[:, pt:pt + h, pl:pl + wd, :] = fx
    fw = (qw.astype(f32) * sw + wmin).astype(f32).astype(np.float64)
    cout_g = co // g
    lut = np.zeros((n, oh, ow, co), dtype=np.int64)
    sqa = np.zeros((n, oh, ow, g), dtype=np.int64)
    ref = np.zeros((n, oh, ow, co), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = qxp[:, i * d:i * d + (oh - 1) * s + 1:s, j * d:j * d + (ow - 1) * s + 1:s, :]
            fpatch = fxp[:, i * d:i * d + (oh - 1) * s + 1:s, j * d:j * d + (ow - 1) * s + 1:s, :]
            for o in range(co):
                gi = o // cout_g
                a = patch[..., gi * cin:(gi + 1) * cin]
                lut[..., o] += t[a, qw[i, j, :, o]].sum(axis=-1)
                ref[..., o] += (fpatch[..., gi * cin:(gi + 1) * cin] * fw[i, j, :, o]).sum(axis=-1)
            for gi in range(g):
                sqa[..., gi] += patch[..., gi * cin:(gi + 1) * cin].sum(axis=-1)
    k = kh * kw * cin
    sum_qw = qw.reshape(-1, co).sum(axis=0)
    acc = lut - zw * sqa[..., np.arange(co) // cout_g] - zx * sum_qw + k * zx * zw
    expect = (f32(sx * sw) * acc.astype(f32)).astype(f32)
    bad = np.flatnonzero(expect.view(np.uint32) != y.view(np.uint32))
    if bad.size:
        print("LUT mismatch at %d of %d elements, first %d: oracle %r, axmul %r"
              % (bad.size, y.size, bad[0], expect.flat[bad[0]], y.flat[bad[0]]))
        return 1
    if (t == np.outer(np.arange(256), np.arange(256))).all():
        rel = np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-30)
        if rel >= 1e-6:
            print("exact table: relative L-inf %.3g against the float conv" % rel)
            return 1
    print("ok: %d outputs bit-identical to the NumPy oracle" % y.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
