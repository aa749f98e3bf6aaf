#!/bin/sh
# axconv-test net --report and --shard: images are valid PNGs of the stated sizes, every image
# the page names exists, and sharded runs merge into the unsharded result.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
C="$top_builddir/conv/axconv-test"
M="$top_srcdir/models/lenet5-fashion-mnist"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/t10k-images-idx3-ubyte.gz" ] ||
    skip "Debian's dataset-fashion-mnist is not installed ($FM); ./quickstart.sh installs it"

# shards 1/3, 2/3, 3/3 concatenated equal the unsharded run (timings aside)
strip() { # drop the seconds column/key, sort
    sed -e 's/, "seconds": [0-9.]*//' -e 's/,[0-9.]*$//' "$1" | sort
}
for fmt in csv json; do
    run 0 "$C" net --model "$M" --mtab-dir "$top_srcdir/tables" --limit 300 --format $fmt --quiet
    cp "$T/out" "$T/all.$fmt"
    : > "$T/merged.$fmt"
    for i in 1 2 3; do
        run 0 "$C" net --model "$M" --mtab-dir "$top_srcdir/tables" --limit 300 --format $fmt \
            --shard $i/3 --quiet
        cat "$T/out" >> "$T/merged.$fmt"
    done
    strip "$T/all.$fmt" > "$T/a"
    strip "$T/merged.$fmt" > "$T/b"
    cmp -s "$T/a" "$T/b" || { diff "$T/a" "$T/b" >&2; fail "$fmt: merged shards differ"; }
done
[ "$(grep -c '^table,' "$T/merged.csv")" -eq 1 ] || fail "one csv header in merged shards"
run 2 "$C" net --model "$M" --mtab-dir "$top_srcdir/tables" --shard 4/3
expect_err "--shard '4/3'"
pass "--shard I/N: merged shards equal the unsharded run (csv and json)"

# the report: every image valid and of its stated size, every referenced file present
R="$T/report"
set -- --mtab "$top_srcdir/tables/mul8u_1JFF.bin" --mtab "$top_srcdir/tables/mul8u_drum_k4.bin" \
    --mtab "$top_srcdir/tables/mul8s_mitchell.bin"
if have_fixtures; then
    set -- "$@" --mtab-dir "$fixtures"
fi
run 0 "$C" net --model "$M" "$@" --limit 300 --report "$R" --quiet
ntab=$(grep -c 'class="name"' "$R/index.html")
want=3
have_fixtures && want=39
[ "$ntab" -eq "$want" ] || fail "report lists $ntab tables, expected $want"
for f in "$R"/img/*_error.png; do
    [ "$(png_size "$f")" = "256 256" ] || fail "$f: error heatmap size"
done
for f in "$R"/img/*_confusion.png; do
    [ "$(png_size "$f")" = "201 201" ] || fail "$f: confusion matrix size"
done
for f in "$R"/img/*_layer*.png; do
    png_size "$f" > /dev/null || fail "$f: not a valid PNG"
done
grep -o 'src="[^"]*"' "$R/index.html" | sed 's/src="//; s/"$//' | while read -r ref; do
    [ -f "$R/$ref" ] || { echo "missing $ref" >&2; exit 1; }
done || fail "index.html references a missing file"
head -c 4 "$R/pareto.svg" | grep -q '<svg' || fail "pareto.svg"
tail -1 "$R/pareto.svg" | grep -q '</svg>' || fail "pareto.svg is not complete"
grep -q 'Pareto front' "$R/pareto.svg" || fail "pareto legend"
grep -q 'mean absolute error' "$R/pareto.svg" || fail "pareto axis label"
imgs=$(grep -o '<img ' "$R/index.html" | wc -l)
[ "$imgs" -eq $(( 1 + ntab * 7 )) ] || fail "$imgs images for $ntab tables"
pass "report: $ntab tables, $imgs images, all valid PNGs/SVG of the stated sizes"

run 2 "$C" net --model "$M" --mtab "$top_srcdir/tables/mul8u_1JFF.bin" --report "$T/report/index.html/x" --limit 10
expect_err "--report"
pass "unwritable report folder"
