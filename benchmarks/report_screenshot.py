"""Render the visual report and take a headless-Chromium screenshot of its HTML page.

    python -m benchmarks.report_screenshot [PIPELINE]   # default: train a small BBC pipeline

Writes the report's PNGs (with the peer plot from the results folder's ``peers.json``) to
``report/`` in the results folder (for the README) and the screenshot to
``report/screenshot.png``. The small pipeline (``[report_screenshot]`` in ``settings.toml``)
is trained once and kept in the benchmark cache. Skips the screenshot with a reason when
chromium is absent.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/report_screenshot.py): this folder is the import root
    import harness

SETTINGS = harness.settings("report_screenshot")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def small_bbc_pipeline(path: Path) -> Path:
    """Train a small TopK pipeline on BBC with the fast trainer and save it with its history."""
    import spacy

    from spacy_sparsecode import TrainConfig, fit_component

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": SETTINGS["model"]})
    docs = [nlp.make_doc(text) for text in harness.load_bbc().texts]
    history = fit_component(component, docs, TrainConfig(**SETTINGS["train"]), progress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    (path / "history.json").write_text(json.dumps(history), encoding="utf8")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    from spacy_sparsecode.jobs.report import build_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", nargs="?", type=Path, help="a trained pipeline (default: a small BBC one, cached)")
    harness.add_path_arguments(parser)
    args = parser.parse_args(argv)
    cached = harness.cache_dir() / "report" / "bbc-topk50"
    if args.pipeline:
        model = args.pipeline
    elif (cached / "history.json").exists():
        model = cached  # reuse the pipeline trained by an earlier run
    else:
        model = small_bbc_pipeline(cached)
    out = args.out / "report"
    out.mkdir(parents=True, exist_ok=True)
    peers = args.out / "peers.json"
    page = build_report(model, out, corpus="bbc", max_docs=SETTINGS["max_docs"], peers_json=peers if peers.exists() else None,
                        overwrite=True)
    size = sum(p.stat().st_size for p in out.glob("*.png"))
    print(f"report: {page} ({page.stat().st_size / 1e6:.2f} MB html, {size / 1e6:.2f} MB of PNGs)")
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print("skip screenshot: no chromium on PATH (apt-get install chromium)")
        return 0
    shot = out / "screenshot.png"
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
    sys.exit(main())
