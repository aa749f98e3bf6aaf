#!/bin/sh
# Optional: the convolution against an independent NumPy implementation of doc/semantics.md
# (Debian's python3-numpy). Skips when NumPy is absent; the core suite does not need it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
C="$top_builddir/conv/axconv-test"
PY=$(python_with "numpy")
[ -n "$PY" ] || skip "NumPy not installed (Debian: python3-numpy): oracle test skipped"
perl -e 'binmode STDOUT; print pack("v*", map { my ($a, $b) = (int($_ / 256), $_ % 256); ($a * $b + 3 * $a + ($b ^ 0x55)) & 0xffff } 0..65535)' > "$T/approx.bin"
i=0
for cfg in "1 1 same 1" "2 1 valid 1" "1 2 same 2" "2 2 1,0,2,1 4" "1 1 valid 4"; do
    set -- $cfg
    i=$((i + 1))
    cin=$((8 / $4))
    "$C" conv --shape 2,9,11,1 --kernel 1,1,8 --seed $i --output "$T/x.npy" > /dev/null || fail "x"
    "$C" conv --shape 3,3,$cin,1 --kernel 1,1,8 --seed $((i + 100)) --padding same --output "$T/w4.npy" > /dev/null || fail "w"
    for tab in "$top_srcdir/tables/mul8u_1JFF.bin" "$T/approx.bin"; do
        pad=$3
        "$C" conv --input "$T/x.npy" --filter "$T/w4.npy" --mtab "$tab" --stride $1 --dilation $2 \
            --padding "$pad" --groups $4 --output "$T/y.npy" > /dev/null || fail "conv $cfg"
        "$PY" "$top_srcdir/tests/oracle.py" "$T/x.npy" "$T/w4.npy" "$T/y.npy" "$tab" $1 $2 "$pad" $4 ||
            fail "oracle disagrees: stride $1 dilation $2 padding $3 groups $4 table $(basename "$tab")"
    done
done
pass "5 configurations x 2 tables bit-identical to the NumPy oracle; exact table within 1e-6 of float conv"
# Fortran-order arrays (np.asfortranarray, a transposed array saved as is) are read in C order:
# the same convolution, byte for byte, as from the C-order files
"$PY" -c "import numpy as np, sys
for f in sys.argv[1:]:
    np.save(f[:-4] + '_f.npy', np.asfortranarray(np.load(f)))
    assert np.load(f[:-4] + '_f.npy').flags.f_contiguous" "$T/x.npy" "$T/w4.npy" || fail "writing Fortran-order arrays"
head -c 128 "$T/x_f.npy" | grep -q "'fortran_order': True" || fail "NumPy wrote no Fortran-order header"
"$C" conv --input "$T/x.npy" --filter "$T/w4.npy" --mtab "$T/approx.bin" --groups 4 --output "$T/yc.npy" > /dev/null || fail "C order"
"$C" conv --input "$T/x_f.npy" --filter "$T/w4_f.npy" --mtab "$T/approx.bin" --groups 4 --output "$T/yf.npy" > /dev/null || fail "Fortran order"
cmp -s "$T/yc.npy" "$T/yf.npy" || fail "Fortran-order inputs give another convolution"
pass "Fortran-order .npy inputs give the C-order result bit for bit"
