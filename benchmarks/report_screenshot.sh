#!/usr/bin/env bash
# Render an HTML report of the demo set and take a screenshot of it in headless Chromium,
# to look at what a user sees. Needs: apt-get install -y chromium. Writes to $OUT (default
# /tmp/braintumor-report); the PNG is for looking at, not for committing.
set -euo pipefail
OUT=${OUT:-/tmp/braintumor-report}
mkdir -p "$OUT"
python - "$OUT" <<'PY'
import sys
from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo
from braintumor_features.evaluation import evaluate
out = sys.argv[1]
demo = make_demo(n_samples=120, image_size=96, random_state=0)
pipe = make_pipeline("svm", image_size=96, random_state=0)
report = evaluate(pipe, demo.images, demo.target, groups=demo.groups)
open(f"{out}/evaluation.json", "w").write(report.to_json())
PY
python -m braintumor_features.report "$OUT/evaluation.json" -o "$OUT/report.html" --title "Demo set, grouped 5-fold"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
  --window-size=1200,2200 --screenshot="$OUT/report.png" "file://$OUT/report.html"
echo "$OUT/report.png"
