#!/bin/sh
# axmul-verify: formats, packing diagnosis on real file variants, heatmaps, errors.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
V="$top_builddir/verify/axmul-verify"
G="$top_builddir/gen/axmul-gen"
E="$top_srcdir/tables/mul8u_1JFF.bin"
command -v perl >/dev/null || skip "perl (Debian's perl-base) is needed to build table variants"

run 0 "$V" --help
expect_out "Usage: axmul-verify"
run 0 "$V" --version
run 2 "$V"
expect_err "no TABLE.bin"
run 2 "$V" --format yaml "$E"
expect_err "--format"
run 2 "$V" --scale 0 --heatmap "$T/h.png" "$E"
expect_err "--scale"
pass "usage"

# text, json, csv for the exact table
run 0 "$V" "$E"
expect_out "mul8u_1JFF.bin (unsigned mul8u)"
expect_out "commutative yes   zero-preserving yes   monotonicity violations 0"
run 0 "$V" --format json "$E"
expect_out '"signed": false, "mae": 0, "mae_percent": 0, "wce": 0'
expect_out '"commutative": true, "zero_preserving": true, "monotone_violations": 0'
run 0 "$V" --format csv "$E" "$E" "$E"
head -1 "$T/out" | grep -qx 'file,signed,mae,mae_percent,wce,wce_percent,ep_percent,mse,mre_percent,wcre_percent,mean_error,error_std,min_error,max_error,commutative,zero_preserving,monotone_violations' ||
    fail "csv header: $(head -1 "$T/out")"
[ "$(wc -l < "$T/out")" -eq 4 ] || fail "csv: one row per table"
pass "formats"

# an all-zero table: MAE% 24.81 as EvoApprox prints for mul8u_199Z
head -c 131072 /dev/zero > "$T/zero.bin"
run 0 "$V" --format csv "$T/zero.bin"
tail -1 "$T/out" | awk -F, '{ if ($4 < 24.805 || $4 >= 24.815 || $5 != 65025) exit 1 }' ||
    fail "zero table metrics: $(tail -1 "$T/out")"
pass "all-zero table metrics"

# signed tables: named mul8s_ -> signed
"$G" -q "$top_srcdir/tests/gen/signed_style.c" -o "$T/mul8s_exact.bin" || fail "gen signed"
run 0 "$V" --format json "$T/mul8s_exact.bin"
expect_out '"signed": true, "mae": 0,'
run 0 "$V" --check-packing "$T/mul8s_exact.bin"
run 1 "$V" --check-packing --unsigned "$T/mul8s_exact.bin"
expect_out "signed/unsigned mix-up"
pass "signed tables"

# packing diagnosis on real files
run 0 "$V" --check-packing "$E"
expect_out "identical"
dd if="$E" of="$T/swapped.bin" conv=swab 2>/dev/null
run 1 "$V" --check-packing "$T/swapped.bin"
expect_out "big-endian byte order"
# the exact table is commutative: make a non-commutative reference and its transpose
perl -e 'binmode STDOUT; print pack("v*", map { int($_/256) * ($_%256) + (int($_/256) > ($_%256) ? 1 : 0) } 0..65535)' > "$T/ref.bin"
perl -e 'binmode STDIN; binmode STDOUT; read STDIN, $b, 131072; @v = unpack("v*", $b);
    print pack("v*", map { $v[($_ % 256) * 256 + int($_ / 256)] } 0..65535)' < "$T/ref.bin" > "$T/transposed.bin"
run 1 "$V" --check-packing --against "$T/ref.bin" "$T/transposed.bin"
expect_out "transposed (b-major) order"
perl -e 'binmode STDIN; binmode STDOUT; read STDIN, $b, 131072; print pack("C*", map { $_ & 255 } unpack("v*", $b))' < "$E" > "$T/bytes8.bin"
run 1 "$V" --check-packing "$T/bytes8.bin"
expect_out "8-bit entries"
perl -e 'binmode STDIN; binmode STDOUT; read STDIN, $b, 131072; print pack("V*", unpack("v*", $b))' < "$E" > "$T/wide32.bin"
run 1 "$V" --check-packing "$T/wide32.bin"
expect_out "32-bit entries (values equal the reference)"
{ printf 'AXMULHDR'; cat "$E"; } > "$T/header.bin"
run 1 "$V" --check-packing "$T/header.bin"
expect_out "8-byte header"
{ cat "$E"; printf 'xx'; } > "$T/trailing.bin"
run 1 "$V" --check-packing "$T/trailing.bin"
expect_out "2 trailing bytes"
{ printf '\001'; head -c 131071 "$E"; } > "$T/shifted.bin"
run 1 "$V" --check-packing "$T/shifted.bin"
expect_out "shifted by one byte"
perl -e 'binmode STDIN; binmode STDOUT; read STDIN, $b, 131072; @v = unpack("v*", $b); $v[7*256+9] = 60;
    print pack("v*", @v)' < "$E" > "$T/onewrong.bin"
run 1 "$V" --check-packing "$T/onewrong.bin"
expect_out "first at (a=7, b=9): expected 63, found 60"
run 1 "$V" --check-packing --format json "$T/onewrong.bin" "$E"
expect_out '"packing": "different values"'
expect_out '"packing": "identical"'
pass "packing diagnosis: identical, big-endian, transposed, 8/32-bit, header, trailing, shift, value"

# metrics relative to another table
run 0 "$V" --against "$T/ref.bin" --format csv "$T/transposed.bin"
tail -1 "$T/out" | awk -F, '{ if ($5 != 1) exit 1 }' || fail "relative wce: $(tail -1 "$T/out")"
pass "--against metrics"

# operand distributions
awk 'BEGIN { for (i = 0; i < 256; i++) print (i == 3) ? 1 : 0 }' > "$T/da.txt"
awk 'BEGIN { for (i = 0; i < 256; i++) print (i == 5) ? 1 : 0 }' > "$T/db.txt"
perl -e 'binmode STDIN; binmode STDOUT; read STDIN, $b, 131072; @v = unpack("v*", $b); $v[3*256+5] = 25;
    print pack("v*", @v)' < "$E" > "$T/w.bin"
run 0 "$V" --dist-a "$T/da.txt" --dist-b "$T/db.txt" --format csv "$T/w.bin"
tail -1 "$T/out" | awk -F, '{ if ($3 != 10) exit 1 }' || fail "weighted mae: $(tail -1 "$T/out")"
run 2 "$V" --dist-a "$T/db.txt.missing" "$E"
expect_err "db.txt.missing"
pass "--dist-a/--dist-b"

# images
run 0 "$V" --heatmap "$T/h.png" --histogram "$T/hist.png" "$T/onewrong.bin"
[ "$(png_size "$T/h.png")" = "256 256" ] || fail "heatmap size"
[ "$(png_size "$T/hist.png")" = "512 256" ] || fail "histogram size"
"$top_builddir/tests/pnginfo" "$T/h.png" -t Scale | grep -q "blue = -3" || fail "scale text"
run 0 "$V" --heatmap "$T/h2.png" --scale 2 "$E"
[ "$(png_size "$T/h2.png")" = "512 512" ] || fail "scaled heatmap size"
mkdir "$T/maps"
run 0 "$V" --heatmap-dir "$T/maps" --format csv "$E" "$T/onewrong.bin" "$T/zero.bin"
for n in mul8u_1JFF onewrong zero; do
    [ "$(png_size "$T/maps/$n.png")" = "256 256" ] || fail "heatmap-dir: $n.png"
done
run 2 "$V" --heatmap "$T/x.png" "$E" "$E"
expect_err "one table"
run 2 "$V" --heatmap-dir "$T/nodir" "$E"
expect_err "nodir"
run 2 "$V" --heatmap "$T/nodir/x.png" "$E"
expect_err "nodir/x.png"
[ -e "$T/nodir" ] && fail "created a folder"
pass "heatmaps and histogram"

# bad inputs: exit 2 naming the file; other tables are still reported
run 2 "$V" "$T/missing.bin"
expect_err "missing.bin"
run 2 "$V" "$T"
expect_err "is a directory"
run 2 "$V" --format csv "$T/bytes8.bin" "$E"
expect_err "bytes8.bin: 65536 bytes (expected 131072): looks like one byte per entry"
[ "$(wc -l < "$T/out")" -eq 2 ] || fail "the good table is still reported"
: > "$T/empty.bin"
run 2 "$V" "$T/empty.bin"
expect_err "empty"
run 0 "$V" -o "$T/report.csv" --format csv "$E"
[ "$(wc -l < "$T/report.csv")" -eq 2 ] || fail "-o report"
pass "bad inputs"

# -o FILE --format csv is replaced only when the first row is ready: runs whose tables all fail
# leave an earlier run's results as they were, and leave no file behind where there was none
cp "$T/report.csv" "$T/report.keep"
run 2 "$V" -o "$T/report.csv" --format csv "$T/missing.bin"
cmp -s "$T/report.csv" "$T/report.keep" || fail "a run with only a missing table changed -o FILE"
run 2 "$V" -o "$T/report.csv" --format csv "$T/bytes8.bin" "$T/empty.bin"
cmp -s "$T/report.csv" "$T/report.keep" || fail "a run with only bad tables changed -o FILE"
run 2 "$V" -o "$T/report.csv" --format csv --resume "$T/missing.bin"
cmp -s "$T/report.csv" "$T/report.keep" || fail "--resume with only a missing table changed -o FILE"
run 2 "$V" -o "$T/new.csv" --format csv "$T/missing.bin"
[ ! -e "$T/new.csv" ] || fail "a run without a row left an empty -o FILE behind"
run 2 "$V" -o "$T/report.csv" --format csv "$T/missing.bin" "$T/zero.bin"
[ "$(wc -l < "$T/report.csv")" -eq 2 ] && head -1 "$T/report.csv" | grep -q '^file,' &&
    grep -q "zero.bin," "$T/report.csv" && ! grep -q "mul8u_1JFF" "$T/report.csv" ||
    fail "a good table after a bad one: header + its row, the old rows replaced"
pass "-o FILE (csv) kept until the first row"

if have_fixtures; then
    run 0 "$V" --format csv "$fixtures"/mul8u_*.bin
    [ "$(wc -l < "$T/out")" -eq 37 ] || fail "36 fixture rows"
    grep '^[^,]*mul8u_L40.bin,' "$T/out" | awk -F, '{ if ($4 < 1.535 || $4 >= 1.545) exit 1 }' ||
        fail "L40 mae_percent"
    run 1 "$V" --check-packing "$fixtures"/mul8u_*.bin
    [ "$(grep -c identical "$T/out")" -eq 1 ] || fail "only 1JFF is exact"
    pass "36 fixture tables in one call"
fi

# other frameworks' formats: --convert round trips, --from reads them (by extension too)
D4S="$top_srcdir/tables/mul8s_drum_k4.bin"
for f in torchapprox:npy approxtorch:txt adapt:h; do
    fmt=${f%%:*} ext=${f#*:}
    run 0 "$V" --convert "$fmt" -o "$T/d4.$ext" "$D4S"
    [ -s "$T/d4.$ext" ] && [ ! -s "$T/out" ] || fail "--convert $fmt writes the file, nothing on stdout"
    run 0 "$V" --convert bin -o "$T/back.bin" "$T/d4.$ext"
    cmp -s "$T/back.bin" "$D4S" || fail "$fmt round trip"
    run 0 "$V" --format csv "$T/d4.$ext"
    run 0 "$V" --format csv --from "$fmt" "$T/d4.$ext"
    grep -q ",true,240.693115234375," "$T/out" || fail "--from $fmt: the metrics of mul8s_drum_k4: $(cat "$T/out")"
done
grep -q 'const int16_t lut\[256\]\[256\] = {' "$T/d4.h" || fail "AdaPT header declaration"
run 1 "$V" --check-packing "$T/d4.h" # diagnosed as its .bin: not the exact table
expect_out "packing:   different values"
pass "--convert torchapprox/approxtorch/adapt round-trip mul8s_drum_k4; --from and extensions read them"
run 2 "$V" --convert approxtorch -o "$T/u.txt" "$top_srcdir/tables/mul8u_drum_k4.bin"
expect_err "ApproxTorch tables are signed 8x8"
[ ! -e "$T/u.txt" ] || fail "a refused conversion left a file"
run 2 "$V" --convert adapt "$D4S"
expect_err "--convert needs -o FILE"
run 2 "$V" --convert adapt -o "$T/x.h" "$D4S" "$D4S"
expect_err "--convert takes one table (got 2)"
run 2 "$V" --convert pickle -o "$T/x.h" "$D4S"
expect_err "unknown table format 'pickle'"
printf '1 2 3\n' > "$T/bad.txt"
run 2 "$V" "$T/bad.txt"
expect_err "bad.txt: 3 entries, a table has 65536"
pass "format errors: unsigned to ApproxTorch, no -o, two tables, unknown format, a short text table"
