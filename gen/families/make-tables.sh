#!/bin/sh
# Regenerates the bundled tables from gen/families/catalogue.txt with axmul-gen, their index
# (index.csv: name, family, parameters, signed, sha256 and axmul-verify metrics) and, with
# --heatmaps DIR, one error heatmap per table. Usage:
#   make-tables.sh GEN VERIFY FAMILIES_DIR OUT_DIR [--heatmaps DIR]
# OUT_DIR receives NAME.bin and index.csv; nothing there is touched before all tables exist.
set -eu
gen=$1 verify=$2 fam=$3 out=$4
shift 4
heat=""
if [ "${1:-}" = --heatmaps ]; then heat=$2; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/axmul-tables.XXXXXX")
trap 'rm -rf "$work"' EXIT
grep -v '^[[:space:]]*#' "$fam/catalogue.txt" | grep -v '^[[:space:]]*$' > "$work/list"
while read -r name src family params defs; do
    dflags=""
    for d in $defs; do dflags="$dflags -D $d"; done
    # shellcheck disable=SC2086
    "$gen" -q "$fam/$src" $dflags -o "$work/$name.bin"
done < "$work/list"
# metrics in catalogue order, full precision
set --
while read -r name rest; do set -- "$@" "$work/$name.bin"; done < "$work/list"
"$verify" --format csv "$@" > "$work/metrics.csv"
{
    echo "name,family,parameters,signed,sha256,mae_percent,wce_percent,mre_percent,ep_percent,mse,mean_error"
    while read -r name src family params defs; do
        sum=$(sha256sum "$work/$name.bin" | cut -d' ' -f1)
        grep "/$name.bin," "$work/metrics.csv" |
            awk -F, -v n="$name" -v f="$family" -v p="$params" -v s="$sum" \
                '{ printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", n, f, (p == "-" ? "" : p), $2, s, $4, $6, $9, $7, $8, $11 }'
    done < "$work/list"
} > "$work/index.csv"
mkdir -p "$out"
while read -r name rest; do cp "$work/$name.bin" "$out/$name.bin.tmp" && mv "$out/$name.bin.tmp" "$out/$name.bin"; done < "$work/list"
cp "$work/index.csv" "$out/index.csv.tmp" && mv "$out/index.csv.tmp" "$out/index.csv"
if [ -n "$heat" ]; then
    mkdir -p "$heat"
    set --
    while read -r name rest; do set -- "$@" "$out/$name.bin"; done < "$work/list"
    "$verify" --heatmap-dir "$heat" --format csv "$@" > /dev/null
fi
