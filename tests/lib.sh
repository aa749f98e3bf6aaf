# Shared helpers for the shell tests (sourced). Each test gets a private temporary folder that is
# removed on exit, and helpers that print what failed before exiting 1.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
T=$(mktemp -d "${TMPDIR:-/tmp}/axmul-shtest.XXXXXX") || exit 99
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
ntests=0

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

pass() {
    ntests=$((ntests + 1))
    echo "ok $ntests - $*"
}

# run EXPECTED_STATUS CMD...: runs CMD with stdout in $T/out and stderr in $T/err and checks the
# exit status (never a signal).
run() {
    want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout:" >&2
        head -c 3000 "$T/out" >&2
        echo "--- stderr:" >&2
        head -c 3000 "$T/err" >&2
        fail "'$*' exited $got, expected $want"
    fi
}

# expect_err TEXT: stderr of the last run contains TEXT.
expect_err() {
    grep -F -q -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks '$1'"; }
}

expect_out() {
    grep -F -q -- "$1" "$T/out" || { head -c 3000 "$T/out" >&2; fail "stdout lacks '$1'"; }
}

# entry FILE A B: table entry (a, b) as an unsigned number, read little-endian.
entry() {
    off=$((2 * ($2 * 256 + $3)))
    set -- $(od -An -tu1 -j "$off" -N2 "$1")
    echo $(($1 + 256 * $2))
}

# png_size FILE: "W H" after decoding the whole image with libpng.
png_size() {
    "$top_builddir/tests/pnginfo" "$1"
}

fixtures=${AXMUL_FIXTURES:-$top_srcdir/../shared/fixtures/tfapprox-axmul_8x8}
have_fixtures() {
    [ -f "$fixtures/mul8u_1JFF.bin" ]
}

# python_with MODULES: a Python 3 that imports MODULES ("numpy, torch"), or nothing. Debian's
# /usr/bin/python3 first: a python3 earlier on PATH (pyenv, a venv) may lack Debian's packages.
python_with() {
    for p in /usr/bin/python3 python3; do
        if command -v "$p" >/dev/null && "$p" -c "import $1" 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}
