#!/bin/sh
# The bundled tables and their index are what the family sources give: regenerate everything with
# axmul-gen + axmul-verify and compare with the committed copies; every family source cites its
# paper; the exact tables match the community file.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
fam="$top_srcdir/gen/families"

for src in "$fam"/*.c; do
    grep -q 'Reference: .*[A-Z].*' "$src" || fail "$(basename "$src") lacks its 'Reference:' citation"
    grep -q "$(basename "$src")" "$fam/catalogue.txt" || fail "$(basename "$src") is not in catalogue.txt"
done
pass "every family source cites its paper and is catalogued"

sh "$fam/make-tables.sh" "$top_builddir/gen/axmul-gen" "$top_builddir/verify/axmul-verify" \
    "$fam" "$T/tables" --heatmaps "$T/maps" || fail "make-tables.sh"
n=0
for t in "$T"/tables/*.bin; do
    name=$(basename "$t")
    cmp -s "$t" "$top_srcdir/tables/$name" ||
        fail "tables/$name differs from what gen/families gives (run 'make tables')"
    [ "$(png_size "$T/maps/${name%.bin}.png")" = "256 256" ] || fail "heatmap of $name"
    [ -f "$top_srcdir/doc/multipliers/${name%.bin}.png" ] || fail "doc/multipliers/${name%.bin}.png missing"
    grep -q "^| ${name%.bin} |" "$top_srcdir/doc/multipliers.md" || fail "doc/multipliers.md lacks ${name%.bin}"
    n=$((n + 1))
done
[ "$n" -eq "$(ls "$top_srcdir"/tables/*.bin | wc -l)" ] || fail "tables/ has tables not in the catalogue"
cmp -s "$T/tables/index.csv" "$top_srcdir/tables/index.csv" || {
    diff "$T/tables/index.csv" "$top_srcdir/tables/index.csv" >&2
    fail "tables/index.csv differs from the regenerated index (run 'make tables')"
}
pass "$n tables and index.csv reproducible"

sum=$(sha256sum "$T/tables/mul8u_1JFF.bin" | cut -d' ' -f1)
[ "$sum" = 0c6fd3441f139fb52cb64129eeb8b9cf866d6d095563d74639bd7459d183a8c1 ] ||
    fail "mul8u_1JFF sha256 $sum"
grep -q "^mul8u_1JFF,exact,,false,0c6fd3441f139fb52cb64129eeb8b9cf866d6d095563d74639bd7459d183a8c1," \
    "$top_srcdir/tables/index.csv" || fail "index row of mul8u_1JFF"
pass "mul8u_1JFF sha256 0c6fd344...a8c1"
if have_fixtures; then
    cmp "$T/tables/mul8u_1JFF.bin" "$fixtures/mul8u_1JFF.bin" || fail "differs from the fixture"
    pass "byte-identical to the shared fixture mul8u_1JFF.bin"
else
    echo "note: shared fixtures absent ($fixtures); fixture comparison skipped"
fi
