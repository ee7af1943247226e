#!/usr/bin/env bash
# Typed nuclei across datasets on CPU (docs/nuclei.md, route a), end to end:
# synthetic PanNuke, CoNSeP and MoNuSAC downloads (one hidden set of nucleus types,
# each dataset labelling them with its own classes) -> the real converters at
# 0.5 um/px -> train CoNSeP alone (B) and PanNuke then CoNSeP (A then B) ->
# test on every dataset's test split -> one table per dataset and a panel.
# Re-runnable: finished steps are kept (their logs say so); `make clean-demo` or
# FRESH=1 starts over. Logs: work_dirs/demo_nuclei/logs/ and each run's folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-${VENV:-.venv}/bin/python}
DATA=data/demo_nuclei  # the configs' data roots (configs/demo/nuclei_consep.py)
RAW=$DATA/raw
WORK=${WORK:-work_dirs/demo_nuclei}
LOGS=$WORK/logs

if [ "${FRESH:-0}" = 1 ]; then rm -rf "$DATA" "$WORK"; fi
mkdir -p "$LOGS"
# Time per step: wall clock, and the CPU time of its processes (user + system; on an
# idle 2-core machine training uses both cores, so its wall time is about half of it).
cpu_now() {  # CPU=the CPU seconds of this script's finished child processes so far
  times > "$WORK/.times"  # in this shell: `times` in a $(subshell) would count nothing
  CPU=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/)
                                                          s += t[1] * 60 + t[2] }
                       printf "%d", s }' "$WORK/.times")
}
start=$(date +%s)
step_start=$start
cpu_now
step_cpu=$CPU
printf '  %-38s %6s  %6s   (load average at the start: %s)\n' step wall cpu \
  "$(cut -d' ' -f1-3 /proc/loadavg)" > "$WORK/timings.txt"
took() {  # "<what> <wall s> <cpu s>" to the timings file and the screen
  local now; now=$(date +%s)
  cpu_now
  printf '  %-38s %4d s  %4d s\n' "$1" $((now - step_start)) $((CPU - step_cpu)) \
    | tee -a "$WORK/timings.txt"
  step_start=$now step_cpu=$CPU
}
fail() { echo "FAILED: $1 (last lines of $2):"; tail -n 40 "$2"; exit 1; }

echo "== 1/5 synthetic PanNuke, CoNSeP and MoNuSAC downloads, one hidden set of nucleus types -> $RAW"
if [ -f "$RAW/.complete" ]; then
  echo "  already written ($RAW)"
else
  rm -rf "$RAW"
  "$PY" -m crossspec_mmseg.demo.nuclei_appearance "$RAW" > "$LOGS/downloads.log" 2>&1 \
    || fail "writing the downloads" "$LOGS/downloads.log"
  touch "$RAW/.complete"
fi
took "1 downloads"

echo "== 2/5 converting them with tools/dataset_converters/{pannuke,consep,monusac}.py (0.5 um/px, 128 px tiles)"
for pair in pannuke:PanNuke consep:CoNSeP monusac:MoNuSAC; do
  name=${pair%%:*}
  # the converters resume from their journal: a second run only checks the tiles
  "$PY" "tools/dataset_converters/$name.py" "$RAW/${pair#*:}" "$DATA/$name" --mpp 0.5 --tile 128 \
    > "$LOGS/convert_$name.log" 2>&1 || fail "converting $name" "$LOGS/convert_$name.log"
  echo "  $name: $(grep -o '[0-9]* sources -> [0-9]* tiles' "$LOGS/convert_$name.log" | tail -n1)"
done
took "2 conversion"

# name|config|what it is (the table's row); stage 2 starts from stage 1's last checkpoint
RUNS=("B alone|nuclei_consep|CoNSeP alone, 400 it"
      "A alone|nuclei_pannuke|PanNuke alone, 200 it"
      "A then B|nuclei_pannuke-then-consep|PanNuke 200 it, then CoNSeP 200 it")
i=0
for run in "${RUNS[@]}"; do
  IFS='|' read -r _ config label <<< "$run"
  i=$((i + 1))
  work=$WORK/$config
  mkdir -p "$work"
  echo "== 3/5 training $label (configs/demo/$config.py; log: $work/train.log)"
  if [ -f "$work/.trained" ]; then
    echo "  already trained: $(cat "$work/last_checkpoint")"
  else
    extra=()
    if [ -f "$work/last_checkpoint" ]; then
      extra=(--resume)  # an interrupted run goes on from its last checkpoint
    elif [ "$config" = nuclei_pannuke-then-consep ]; then
      extra=(--cfg-options "load_from=$(cat "$WORK/nuclei_pannuke/last_checkpoint")")
    fi
    "$PY" tools/train.py "configs/demo/$config.py" --work-dir "$work" ${extra[@]+"${extra[@]}"} \
      > "$work/train.log" 2>&1 || fail "training $config" "$work/train.log"
    touch "$work/.trained"
  fi
  grep -E "Iter\(train\) \[ *[0-9]+/[0-9]+\]" "$work/train.log" | awk 'NR % 4 == 0' \
    | sed -E 's/.*(Iter\(train\) \[ *[0-9]+\/[0-9]+\]).*( loss: [0-9.]+).*/  \1\2/' || true
  took "3.$i train $config"
done

for run in "${RUNS[@]}"; do
  IFS='|' read -r _ config label <<< "$run"
  work=$WORK/$config
  echo "== 4/5 testing $label on the test splits of PanNuke, CoNSeP and MoNuSAC (tools/test.py)"
  if [ "$work/.tested" -nt "$work/.trained" ]; then  # tested since it last trained
    echo "  already tested: $work/metrics.json"
  else
    rm -rf "$work/nuclei_npy"
    "$PY" tools/test.py "configs/demo/$config.py" "$(cat "$work/last_checkpoint")" \
      --work-dir "$work" --nuclei-npy "$work/nuclei_npy" --nuclei-npy-layout conic \
      > "$work/test.log" 2>&1 || fail "testing $config" "$work/test.log"
    touch "$work/.tested"
  fi
  took "4 test $config"
done

echo "== 5/5 typed nucleus scores on each dataset's test split, each in its own labels"
echo "   (B = CoNSeP, A = PanNuke; B alone trains as many iterations as A then B together)"
args=()
for run in "${RUNS[@]}"; do
  IFS='|' read -r name config _ <<< "$run"
  args+=("$name=$WORK/$config")
done
"$PY" -m crossspec_mmseg.demo.nuclei_panel --runs "${args[@]}" --out "$WORK/panel.png" \
  --note "pannuke=A, 5 classes; unseen by B alone" --note "consep=B, 7 classes" \
  --note "monusac=4 classes, stromal and necrotic nuclei unlabelled; unseen by every run" \
  2> "$LOGS/panel.log" || fail "tables and panel" "$LOGS/panel.log"
took "5 tables and panel"
cpu_now
echo "demo finished in $(( $(date +%s) - start )) s wall, $CPU s CPU (per step: $WORK/timings.txt;" \
  "load average now: $(cut -d' ' -f1-3 /proc/loadavg)); outputs in $WORK"
