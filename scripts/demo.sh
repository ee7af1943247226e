#!/usr/bin/env bash
# The whole pipeline on synthetic data, on CPU, for two training regimes:
# raw download -> converter -> train (separate, combined) -> test -> one table.
# REGIMES="separate combined pretrain finetune" make demo adds mouse pre-training
# then human fine-tuning (~5 more minutes; finetune starts from work_dirs/demo/pretrain).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-${VENV:-.venv}/bin/python}
REGIMES=${REGIMES:-separate combined}
RAW=data/demo/raw
DATA=data/demo/nuinsseg
WORK=${WORK:-work_dirs/demo}

start=$(date +%s)
mkdir -p "$WORK"
echo "== 1/4 synthetic NuInsSeg-format download (scarce human + plentiful mouse kidney) -> $RAW"
"$PY" tools/make_demo_data.py "$RAW"
echo "== 2/4 converting it with tools/dataset_converters/nuinsseg.py -> $DATA"
"$PY" tools/dataset_converters/nuinsseg.py "$RAW" "$DATA"
runs=() preds=()
for regime in $REGIMES; do
  config=configs/demo/demo_$regime.py
  work=$WORK/$regime
  mkdir -p "$work"
  echo "== 3/4 training regime '$regime' ($config) on CPU (log: $work/train.log)"
  stage1=()  # finetune starts from this run's pretrain stage
  [ "$regime" = finetune ] && stage1=(--cfg-options "load_from=$(cat "$WORK/pretrain/last_checkpoint")")
  "$PY" tools/train.py "$config" --work-dir "$work" "${stage1[@]}" > "$work/train.log" 2>&1 \
    || { tail -n 40 "$work/train.log"; exit 1; }
  grep -E "Iter\(train\) \[ *[0-9]+/[0-9]+\]" "$work/train.log" | awk 'NR % 4 == 0' \
    | sed -E 's/.*(Iter\(train\) \[ *[0-9]+\/[0-9]+\]).*( loss: [0-9.]+).*/  \1\2/'
  echo "== 4/4 testing $(cat "$work/last_checkpoint") with tools/test.py"
  "$PY" tools/test.py "$config" "$(cat "$work/last_checkpoint")" --work-dir "$work" \
    --out "$work/predictions" > "$work/test.log" 2>&1 || { tail -n 40 "$work/test.log"; exit 1; }
  runs+=("$regime=$work") preds+=("$regime=$work/predictions")
done
echo "Nucleus scores per regime and species on the same test tiles (difference to the first regime):"
"$PY" - "${runs[@]}" <<'PYEOF'
import json, sys
runs = dict(arg.split('=', 1) for arg in sys.argv[1:])
metrics = {name: json.load(open(f'{path}/metrics.json')) for name, path in runs.items()}
columns = [('Dice', 'Dice.nucleus'), ('IoU', 'IoU.nucleus'), ('PQ', 'PQ'), ('AJI', 'AJI')]
species = sorted({k.split('/')[1] for m in metrics.values() for k in m if k.startswith('species/')})
baseline = next(iter(metrics.values()))
print(f'  {"regime":<10} {"species":<8}' + ''.join(f'{c:>15}' for c, _ in columns))
for name, m in metrics.items():
    for s in species:
        cells = []
        for _, key in columns:
            value, base = m.get(f'species/{s}/{key}'), baseline.get(f'species/{s}/{key}')
            cells.append('-' if value is None else
                         f'{value:.1f}' + ('' if m is baseline else f' ({value - base:+.1f})'))
        print(f'  {name:<10} {s:<8}' + ''.join(f'{c:>15}' for c in cells))
PYEOF
"$PY" tools/analyze_results.py --runs "${runs[@]}" --out "$WORK/plots" --metric Dice.nucleus \
  --panel "$DATA" "${preds[@]}" --species human --tiles 4 > "$WORK/plots.log" 2>&1 \
  || { tail -n 20 "$WORK/plots.log"; exit 1; }
echo "plots: $(grep -o '[^ ]*\.png' "$WORK/plots.log" | tr '\n' ' ')"
echo "demo finished in $(( $(date +%s) - start )) s; outputs in $WORK"
