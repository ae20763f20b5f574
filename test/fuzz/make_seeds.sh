#!/usr/bin/env bash
# Seed corpora for the fuzz targets, one folder per target under OUT:
#   onnx_import/  the small test models (good and bad, under 300 KiB) and the example model
#   plan_load/    plans lrc-compile makes of some of them: layerwise, 2PS, OverL, remat
#   ir_text/      every `// -----` case of the lit suite's IR files
# usage: make_seeds.sh SOURCE_DIR BUILD_DIR MODELS_DIR OUT
set -euo pipefail
src=$1 build=$2 models=$3 out=$4
rm -rf "$out"
mkdir -p "$out"/onnx_import "$out"/plan_load "$out"/ir_text
find "$models" -maxdepth 1 -name '*.onnx' -size -300k -exec cp {} "$out"/onnx_import/ \;
cp "$src"/examples/fashion_cnn.onnx "$src"/test/lit/inputs/*.onnx "$out"/onnx_import/
n=0
for model in "$models"/tiny_op13.onnx "$models"/tiny_op9.onnx "$src"/examples/fashion_cnn.onnx; do
  for flags in "--strategy layerwise" "--strategy 2ps --strips 3" "--strategy overl --strips 2 --bp-strips 3" "--strategy 2ps --strips 2 --remat elementwise"; do
    # shellcheck disable=SC2086
    "$build"/tools/lrc-compile "$model" --batch 2 $flags -o "$out"/plan_load/plan$n.bin >/dev/null
    n=$((n + 1))
  done
done
/usr/bin/python3 - "$src"/test/lit "$out"/ir_text <<'PY'
import pathlib, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
n = 0
for f in sorted(root.rglob("*.lrir")):
    for case in f.read_text().split("// -----"):
        (out / f"case{n}.lrir").write_text(case)
        n += 1
PY
echo "seeds: $(ls "$out"/onnx_import | wc -l) models, $(ls "$out"/plan_load | wc -l) plans, $(ls "$out"/ir_text | wc -l) IR texts"
