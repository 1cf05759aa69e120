"""Extractive summarization on BBC News Summary: ours vs lead, TextRank, LexRank, random.

Data: ``../shared/corpora/bbc_news_summary.jsonl`` (2,225 articles with human extractive
summaries); skipped with a reason when absent. Every article is split into sentences by
spaCy's rule-based sentencizer; each system picks N sentences, N = the number of sentences
of the reference summary (its sentences are glued without a space after the full stop in
the source data, so a space is restored before splitting). Systems: ours (TopK SAE trained
on the articles, greedy code coverage + MMR penalty), lead-N (first N sentences), lead-3
(first 3, whatever N), TextRank and LexRank from ``sumy`` fed the same pre-split sentences
(sumy's own tokenizers need NLTK punkt data that is not available offline, so words come
from a regex tokenizer; stemming uses sumy's Snowball stemmer, stop words sumy's list),
random N sentences (seeded). Scores: ROUGE-1/2/L F1 (``rouge-score``, Porter stemmer), mean
over articles. Target: ours >= TextRank and >= lead-3 on ROUGE-2.

Run: ``python benchmarks/summarize.py`` (env BENCH_LIMIT=n: score the first n articles only;
BENCH_MODEL=path: use a trained pipeline instead of training one)
-> ``benchmarks/results/summarize.{json,md}``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import spacy
import torch

from spacy_sparsecode.io import write_bytes_atomic, write_json_atomic
from spacy_sparsecode.tasks.summarize import select_sentences
from spacy_sparsecode.models.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "bbc_news_summary.jsonl"
RESULTS = Path(__file__).parent / "results"
SEED = 0
LIMIT = int(os.environ.get("BENCH_LIMIT", 0)) or None
MODEL = os.environ.get("BENCH_MODEL")
COVERAGE = float(os.environ.get("BENCH_COVERAGE", 0.25))
REDUNDANCY = float(os.environ.get("BENCH_REDUNDANCY", 0.1))


def sumy_systems() -> Dict[str, Callable[[List[str], int], List[int]]]:
    """TextRank and LexRank over pre-split sentences, or {} with a printed reason."""
    try:
        from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
        from sumy.nlp.stemmers import Stemmer
        from sumy.summarizers.lex_rank import LexRankSummarizer
        from sumy.summarizers.text_rank import TextRankSummarizer
        from sumy.utils import get_stop_words
    except ImportError as err:
        print(f"Skipping TextRank and LexRank: sumy is not installed ({err}); pip install sumy")
        return {}

    class RegexTokenizer:
        language = "english"

        def to_words(self, text: str):
            return tuple(re.findall(r"[A-Za-z0-9']+", text))

        def to_sentences(self, text: str):
            return (text,)

    tokenizer, stemmer, stop_words = RegexTokenizer(), Stemmer("english"), get_stop_words("english")
    systems = {}
    for name, cls in (("TextRank", TextRankSummarizer), ("LexRank", LexRankSummarizer)):
        summarizer = cls(stemmer)
        summarizer.stop_words = stop_words

        def run(sentences: List[str], n: int, summarizer=summarizer) -> List[int]:
            objects = [Sentence(s, tokenizer) for s in sentences]
            document = ObjectDocumentModel([Paragraph(objects)])
            chosen = {str(s) for s in summarizer(document, n)}
            return [i for i, s in enumerate(objects) if str(s) in chosen][:n]

        systems[name] = run
    return systems


def main() -> None:
    if not CORPUS.exists():
        print(f"Skipping the summarization benchmark: {CORPUS} is absent (the shared BBC News Summary corpus).")
        return
    try:
        from rouge_score import rouge_scorer
    except ImportError as err:
        print(f"Skipping the summarization benchmark: rouge-score is not installed ({err}); pip install rouge-score")
        return
    torch.set_num_threads(2)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf8").splitlines() if line.strip()]
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    start = time.perf_counter()
    docs = list(nlp.pipe([r["text"] for r in rows], batch_size=128))
    if MODEL:  # a pipeline trained the same way (e.g. `sparsecode demo`: all BBC articles, default config)
        component = spacy.load(MODEL).get_pipe("sparsecode")
    else:
        component = nlp.add_pipe("sparsecode", config={"model": {"seed": SEED}})
        component.fit(docs, TrainConfig(epochs=30, seed=SEED), progress=False)
    train_s = time.perf_counter() - start
    model = component.torch_model
    if LIMIT:
        rows, docs = rows[:LIMIT], docs[:LIMIT]

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rng = np.random.default_rng(SEED)
    systems: Dict[str, Callable] = {
        "ours (centrality + code coverage + MMR)": None,
        "lead-N": lambda sents, n: list(range(n)),
        "lead-3": lambda sents, n: list(range(min(3, len(sents)))),
        **sumy_systems(),
        "random-N": lambda sents, n: sorted(rng.choice(len(sents), n, replace=False).tolist()),
    }
    scores = {name: {"rouge1": [], "rouge2": [], "rougeL": []} for name in systems}
    seconds = {name: 0.0 for name in systems}
    for row, doc in zip(rows, docs):
        sents = [s for s in doc.sents if s.text.strip()]
        texts = [s.text.strip() for s in sents]
        reference = re.sub(r"\.(?=[A-Z\"'])", ". ", row["summary"])
        n = min(len(list(nlp(reference).sents)), len(sents))
        if n == 0:
            continue
        for name, system in systems.items():
            t = time.perf_counter()
            if system is None:
                chosen = select_sentences(model, component.featurize(sents), n, COVERAGE, REDUNDANCY)
            else:
                chosen = system(texts, n)
            seconds[name] += time.perf_counter() - t
            result = scorer.score(reference, " ".join(texts[i] for i in chosen))
            for metric in scores[name]:
                scores[name][metric].append(result[metric].fmeasure)
    table = {name: {m: round(float(np.mean(v)), 4) for m, v in s.items()} | {"seconds": round(seconds[name], 1)}
             for name, s in scores.items()}
    n_docs = len(scores["lead-N"]["rouge1"])
    ours = table["ours (centrality + code coverage + MMR)"]["rouge2"]
    targets = {"ours >= lead-3 (ROUGE-2)": ours >= table["lead-3"]["rouge2"]}
    if "TextRank" in table:
        targets["ours >= TextRank (ROUGE-2)"] = ours >= table["TextRank"]["rouge2"]
    result = {"corpus": str(CORPUS.name), "n_docs": n_docs, "length": "N = sentences in the reference summary",
              "model": {"family": "topk", "n_latents": model.config.n_latents, "k": model.config.k, "epochs": 30,
                        "train_s_incl_tokenize": round(train_s, 1), "pretrained": MODEL, "coverage": COVERAGE, "redundancy": REDUNDANCY},
              "scores": table, "targets": targets, "python": sys.version.split()[0]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "summarize.json", result)
    lines = ["# Extractive summarization (BBC News Summary)", "",
             f"{n_docs} articles; every system picks N sentences, N = sentences in the human reference. "
             f"ROUGE F1 (rouge-score, stemmed), mean over articles. Ours: TopK SAE K={model.config.n_latents}, "
             f"k={model.config.k}, " + (f"loaded from {MODEL} (trained on the articles by `sparsecode demo`)" if MODEL else
             f"trained on the articles ({train_s:.0f} s incl. tokenising)") + f", coverage weight {COVERAGE}, MMR weight {REDUNDANCY}.", "",
             "| system | ROUGE-1 | ROUGE-2 | ROUGE-L | seconds |", "|---|---:|---:|---:|---:|"]
    for name, s in table.items():
        lines.append(f"| {name} | {s['rouge1']:.4f} | {s['rouge2']:.4f} | {s['rougeL']:.4f} | {s['seconds']} |")
    lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if v else 'missed'}" for k, v in targets.items()) + "."]
    write_bytes_atomic(RESULTS / "summarize.md", ("\n".join(lines) + "\n").encode("utf8"))
    print("\n".join(lines))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
