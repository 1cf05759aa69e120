"""Render the visual report and take a headless-Chromium screenshot of its HTML page.

    python benchmarks/report_screenshot.py [PIPELINE]   # default: train a small BBC pipeline

Writes the report's PNGs to benchmarks/results/report/ (for the README) and the screenshot
to benchmarks/results/report/screenshot.png. Skips with a reason when chromium is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "report"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def small_bbc_pipeline(path: Path) -> Path:
    """Train a K=50 TopK pipeline on BBC with the fast trainer and save it with its history."""
    import spacy

    from spacy_sparsecode.text.corpora import iter_bbc
    from spacy_sparsecode.models.trainer import TrainConfig

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": 50, "k": 8, "seed": 0}})
    docs = [nlp.make_doc(r.text) for r in iter_bbc()]
    history = component.fit(docs, TrainConfig(epochs=20, batch_size=256, lr=5e-3), progress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    (path / "history.json").write_text(json.dumps(history), encoding="utf8")
    return path


def main(argv: list) -> int:
    from spacy_sparsecode.jobs.report import build_report

    cached = Path(tempfile.gettempdir()) / "sparsecode-report" / "bbc-topk50"
    if argv:
        model = Path(argv[0])
    elif (cached / "history.json").exists():
        model = cached  # reuse the pipeline trained by an earlier run
    else:
        model = small_bbc_pipeline(cached)
    OUT.mkdir(parents=True, exist_ok=True)
    page = build_report(model, OUT, corpus="bbc", max_docs=1500)
    size = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(f"report: {page} ({page.stat().st_size / 1e6:.2f} MB html, {size / 1e6:.2f} MB of PNGs)")
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print("skip screenshot: no chromium on PATH (apt-get install chromium)")
        return 0
    shot = OUT / "screenshot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}",
               f"--screenshot={shot}", "--window-size=1400,3000", page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not shot.exists():
        print(f"screenshot failed (exit {result.returncode}): {result.stderr[-500:]}")
        return 1
    print(f"screenshot: {shot} ({shot.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
