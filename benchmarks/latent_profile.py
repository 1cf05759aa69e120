"""Profile the latents of a topic model: how many documents each serves and how rare its words are.

Held-out NPMI punishes a latent whose top words co-occur only in a few training documents (one
thread, one author's signature): later documents do not share them. This script trains NMF and
``peers_select`` candidates on the dated validation split of 20 Newsgroups (each group's latest
training posts held out) and reports, per system over seeds: codes' mean L0, the median number
of fitting documents a latent is active in, the median document frequency of its top words,
held-out NPMI and the share of latents below ``bad_npmi``, with the worst latent's words. Writes
``latent_profile.{json,md}`` to the results folder:

    python -m benchmarks.latent_profile
    python -m benchmarks.latent_profile --candidates "the setting" --seeds 1

Its defaults (systems, seeds, thresholds) are ``[latent_profile]`` in ``settings.toml``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np
import scipy.sparse as sp

if __package__:
    from . import harness, peers_select
else:  # run as a file (python benchmarks/latent_profile.py): this folder is the import root
    import harness
    import peers_select

SETTINGS = harness.settings("latent_profile")
BAD_NPMI = SETTINGS["bad_npmi"]
TOP_N = SETTINGS["top_n"]


def profile(fitted: harness.Fitted, corpus: harness.TopicCorpus, words: List[str]) -> Dict[str, Any]:
    """Per-latent figures of one trained system, summarised."""
    from spacy_sparsecode.metrics import npmi, top_words

    codes = sp.csr_matrix(fitted.train_repr if fitted.train_repr is not None else fitted.encode(corpus.train)) != 0
    active = np.asarray(codes.sum(axis=0)).ravel()
    df = np.asarray((corpus.train > 0).sum(axis=0)).ravel()
    top = top_words(np.asarray(fitted.topic_word, dtype=np.float64), TOP_N)
    held = npmi(top, corpus.test)
    worst = int(np.argmin(held))
    return dict(l0=float(codes.sum(axis=1).mean()),
                median_active_docs=float(np.median(active)), median_top_word_df=float(np.median(np.median(df[top], axis=1))),
                npmi=float(held.mean()), bad_share=float((held < BAD_NPMI).mean()),
                worst=f"{held[worst]:+.2f} ({int(active[worst])} docs): " + " ".join(words[i] for i in top[worst][:6]))


def markdown(meta: Dict[str, Any], summary: Dict[str, Dict[str, Any]]) -> str:
    header = ("system", "L0", "docs a latent is active in", f"df of its top-{TOP_N} words", "held-out NPMI",
              f"latents < {BAD_NPMI}", "worst latent (seed 0)")
    rows = [[name, f"{e['l0']:.1f}", f"{e['median_active_docs']:.0f}", f"{e['median_top_word_df']:.0f}", f"{e['npmi']:.3f}",
             f"{e['bad_share']:.0%}", e["worst"]] for name, e in summary.items()]
    return (f"Latent profile on {meta['corpus']}, K={peers_select.K}, seeds 0-{meta['seeds'] - 1}, measured {meta['date']}. "
            f"Candidates as in `peers_select.py` (base: {meta['base']}); medians over latents, then means over seeds.\n\n"
            + harness.markdown_table(header, rows, "lrrrrrl") + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SETTINGS["seeds"], help="seeds per system (default %(default)s)")
    parser.add_argument("--candidates", default=";".join(SETTINGS["systems"]),
                        help=f"peers_select candidates or {peers_select.REFERENCE}, ';'-separated")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.candidates.split(";") if c.strip()]
    unknown = [n for n in names if n not in peers_select.CANDIDATES and n != peers_select.REFERENCE]
    if unknown:
        parser.error(f"unknown candidate {unknown[0]!r}; known: {peers_select.REFERENCE}; {'; '.join(peers_select.CANDIDATES)}")
    newsgroups = args.shared_corpora / harness.corpora.NEWSGROUPS_FILE
    corpus = harness.topics.newsgroups_counts(newsgroups)
    if corpus is None:
        print(f"skip: {newsgroups} is absent")
        return 0
    data = peers_select.validation_corpus(corpus, peers_select.dated_validation_rows(corpus.train.shape[0], newsgroups), "dated")
    print(f"== {data.note}")
    runs: Dict[str, List[Dict[str, Any]]] = {}
    for name in names:
        for seed in range(args.seeds):
            row = profile(peers_select.fit_candidate(name, data, seed), data, corpus.words)
            runs.setdefault(name, []).append(row)
            print(f"   {name:24s} seed={seed} L0 {row['l0']:.1f}  docs/latent {row['median_active_docs']:.0f}  "
                  f"top-word df {row['median_top_word_df']:.0f}  NPMI {row['npmi']:+.3f}  worst {row['worst']}", flush=True)
    summary = {name: {**{key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "worst"}, "worst": rows[0]["worst"]}
               for name, rows in runs.items()}
    meta = dict(date=time.strftime("%Y-%m-%d"), corpus=data.note, seeds=args.seeds, base=peers_select.BASE["model"])
    harness.write_results(args.out, "latent_profile", dict(meta=meta, summary=summary, runs=runs), markdown(meta, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
