#!/usr/bin/env bash
# The whole pipeline on synthetic data, on CPU:
# raw download -> converter -> train -> test -> per-species table.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-${VENV:-.venv}/bin/python}
CONFIG=${CONFIG:-configs/demo/deeplabv3plus_r18-d8_demo.py}
RAW=data/demo/raw
DATA=data/demo/nuinsseg
WORK=${WORK:-work_dirs/demo}

start=$(date +%s)
mkdir -p "$WORK"
echo "== 1/4 synthetic NuInsSeg-format download (human + mouse kidney) -> $RAW"
"$PY" tools/make_demo_data.py "$RAW"
echo "== 2/4 converting it with tools/dataset_converters/nuinsseg.py -> $DATA"
"$PY" tools/dataset_converters/nuinsseg.py "$RAW" "$DATA"
echo "== 3/4 training $(basename "$CONFIG") on CPU (log: $WORK)"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
  > "$WORK/train.log" 2>&1 \
  || { tail -n 40 "$WORK/train.log"; exit 1; }
grep -E "Iter\(train\) \[ *[0-9]+/[0-9]+\]" "$WORK/train.log" | awk 'NR % 3 == 0' | sed -E 's/.*(Iter\(train\) \[ *[0-9]+\/[0-9]+\]).*( loss: [0-9.]+).*/\1\2/'
CKPT=$(cat "$WORK/last_checkpoint")
echo "== 4/4 testing $CKPT with tools/test.py"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/predictions" \
  > "$WORK/test.log" 2>&1 || { tail -n 40 "$WORK/test.log"; exit 1; }
awk '/Iter\(test\)/ {buf=""; next} {buf = buf $0 "\n"} END {printf "%s", buf}' "$WORK/test.log"
echo "Dice of the nucleus class (an all-background guess scores 0):"
"$PY" - "$WORK/metrics.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
for key in sorted(k for k in m if k.endswith('/Dice.nucleus')):
    print(f'  {key.split("/")[1]:>6}: {m[key]:.1f}')
print(f'  {"all":>6}: {m["Dice.nucleus"]:.1f}')
PYEOF
"$PY" tools/analyze_results.py --runs demo="$WORK" --out "$WORK/plots" \
  --panel "$DATA" "$WORK/predictions" --tiles 4 > "$WORK/plots.log" 2>&1 \
  || { tail -n 20 "$WORK/plots.log"; exit 1; }
echo "plots: $(grep -o '[^ ]*\.png' "$WORK/plots.log" | tr '\n' ' ')"
echo "demo finished in $(( $(date +%s) - start )) s; outputs in $WORK"
