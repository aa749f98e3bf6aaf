#!/bin/sh
# ONNX import against PyTorch: ResNet-18-style, MobileNetV2-style and ViT networks trained
# briefly and exported with torch.onnx run as torch runs them, keep their accuracy with the
# exact table, and the shipped LeNet-5 exported to ONNX gives the model folder's results
# (tests/onnx_torch_check.py). Skips without torch, onnx or ONNX import.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
py=$(python_with "numpy, torch, onnx")
[ -n "$py" ] || skip "no python3 with NumPy, torch and onnx (Debian: python3-torch python3-onnx)"
[ -x "$top_builddir/tests/onnx_node_tests" ] || skip "built without ONNX import"
[ -d /usr/share/datasets/fashion-mnist ] || skip "no Fashion-MNIST (dataset-fashion-mnist)"
"$py" "$top_srcdir/tests/onnx_torch_check.py" "$top_builddir" "$top_srcdir" >"$T/log" 2>&1 || {
    cat "$T/log" >&2
    fail "tests/onnx_torch_check.py"
}
grep -E '^(ok|Ran)' "$T/log"
pass "onnx_torch_check.py: $(grep -c '^ok' "$T/log") checks"
