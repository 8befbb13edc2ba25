#!/usr/bin/env bash
# Render an HTML report and take a screenshot of it in headless Chromium, to look at what a
# user sees. Needs: apt-get install -y chromium. Writes to $OUT (default
# /tmp/braintumor-report); the PNG is for looking at, not for committing.
# Without DATA: the demo set, grouped 5-fold. With DATA=../shared/data/brain-mri: the default
# pipeline trained on 400 slices, tested on 160 slices of other patients, with the saliency
# maps of its most confident mistakes and of correct predictions (about a minute).
set -euo pipefail
OUT=${OUT:-/tmp/braintumor-report}
mkdir -p "$OUT"
python - "$OUT" "${DATA:-}" <<'PY'
import sys
import numpy as np
from braintumor_features import make_pipeline
from braintumor_features.datasets import load_folder, make_demo
from braintumor_features.evaluation import evaluate
from braintumor_features.report import write_report
out, data = sys.argv[1], sys.argv[2]
if not data:
    demo = make_demo(n_samples=120, image_size=96, random_state=0)
    pipe = make_pipeline("svm", image_size=96, random_state=0)
    report = evaluate(pipe, demo.images, demo.target, groups=demo.groups)
    write_report(report, f"{out}/report.html", title="Demo set, grouped 5-fold")
else:
    data = load_folder(data)
    subjects = np.unique(data.groups)
    test_subjects = np.random.default_rng(0).choice(subjects, len(subjects) // 5, replace=False)
    held_out = np.isin(data.groups, test_subjects)
    rng = np.random.default_rng(0)
    train = rng.choice(np.flatnonzero(~held_out), 400, replace=False)
    test = rng.choice(np.flatnonzero(held_out), 160, replace=False)
    pipe = make_pipeline(random_state=0).fit([data.paths[i] for i in train], data.target[train])
    paths = [data.paths[i] for i in test]
    report = evaluate(pipe, paths, data.target[test], cv="prefit", groups=data.groups[test],
                      paths=paths)
    write_report(report, f"{out}/report.html", title="brain-mri, 160 slices of held-out patients",
                 pipeline=pipe, n_saliency=4)
PY
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --user-data-dir="$(mktemp -d)" \
  --window-size=1200,2200 --screenshot="$OUT/report.png" "file://$OUT/report.html"
echo "$OUT/report.png"
