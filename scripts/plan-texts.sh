#!/usr/bin/env bash
# Writes the plan text (`lrc-compile --emit plan`) of every good test model under a set of
# strategies, for comparing two builds of lrc-compile: a refactoring must leave every file
# identical (issue 11's acceptance). The models are copied to one fixed directory first, so
# two runs compile from the same paths.
#   scripts/plan-texts.sh BUILD_DIR OUT_DIR      # then: diff -r OUT_A OUT_B
set -euo pipefail
build=${1:?usage: plan-texts.sh BUILD_DIR OUT_DIR}
out=${2:?usage: plan-texts.sh BUILD_DIR OUT_DIR}
compile="$build/tools/lrc-compile"
models=/tmp/lrc-plan-texts-models
mkdir -p "$models" "$out"
for f in "$build"/test-models/*.onnx "$build"/test-models/*.bin; do
  case "$(basename "$f")" in bad_*) continue ;; esac
  cmp -s "$f" "$models/$(basename "$f")" 2>/dev/null || cp "$f" "$models/"
done

# name|flags
settings=(
  "layerwise|--strategy layerwise"
  "2ps4|--strategy 2ps --strips 4"
  "overl2|--strategy overl --strips 2"
  "2ps4-frozen|--strategy 2ps --strips 4 --bn frozen"
  "overl2-strip|--strategy overl --strips 2 --bn strip"
  "2ps2-down-frozen|--strategy 2ps --strips 2 --cut downsample --bn frozen"
  "auto-frozen|--bn frozen"
)
for model in "$models"/*.onnx; do
  name=$(basename "$model" .onnx)
  size=()
  case "$name" in
    resnet50_*|vgg16_*) size=(--batch 2 --input-shape 3,64,64) ;;
    needs_input_shape) size=(--input-shape 3,16,16) ;;
  esac
  for s in "${settings[@]}"; do
    tag=${s%%|*}
    read -r -a flags <<<"${s#*|}"
    if ! "$compile" "$model" "${size[@]}" "${flags[@]}" --emit plan -o "$out/$name.$tag.txt" \
         >/dev/null 2>"$out/$name.$tag.err"; then
      :  # the error text is the result
    fi
    [ -s "$out/$name.$tag.err" ] || rm -f "$out/$name.$tag.err"
  done
done
echo "plan-texts: $(ls "$out" | wc -l) files in $out"
