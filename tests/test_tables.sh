#!/bin/sh
# The bundled tables are what the family sources give: regenerate each with axmul-gen and
# compare with the committed copy (and with the community file where it exists).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
G="$top_builddir/gen/axmul-gen"

"$G" -q "$top_srcdir/gen/families/exact.c" -o "$T/mul8u_1JFF.bin" || fail "generating mul8u_1JFF"
cmp "$T/mul8u_1JFF.bin" "$top_srcdir/tables/mul8u_1JFF.bin" ||
    fail "tables/mul8u_1JFF.bin differs from what gen/families/exact.c gives (run 'make tables')"
sum=$(sha256sum "$T/mul8u_1JFF.bin" | cut -d' ' -f1)
[ "$sum" = 0c6fd3441f139fb52cb64129eeb8b9cf866d6d095563d74639bd7459d183a8c1 ] ||
    fail "mul8u_1JFF sha256 $sum"
pass "tables/mul8u_1JFF.bin reproducible, sha256 0c6fd344...a8c1"
if have_fixtures; then
    cmp "$T/mul8u_1JFF.bin" "$fixtures/mul8u_1JFF.bin" || fail "differs from the fixture"
    pass "byte-identical to the shared fixture mul8u_1JFF.bin"
else
    echo "note: shared fixtures absent ($fixtures); fixture comparison skipped"
fi
