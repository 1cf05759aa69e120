"""Extractive summarization on BBC News Summary: ours vs lead, TextRank, LexRank, random.

Data: ``bbc_news_summary.jsonl`` of the shared corpora (2,225 articles with human extractive
summaries); skipped with a reason when absent. Every article is split into sentences by
spaCy's rule-based sentencizer; each system picks N sentences, N = the number of sentences
of the reference summary (its sentences are glued without a space after the full stop in
the source data, so a space is restored before splitting). Systems: ours (the component's
TopK SAE trained on the articles, greedy code coverage + MMR penalty), lead-N (first N
sentences), lead-3 (first 3, whatever N), TextRank and LexRank from ``sumy`` fed the same
pre-split sentences (sumy's own tokenizers need NLTK punkt data that is not available offline,
so words come from a regex tokenizer; stemming uses sumy's Snowball stemmer, stop words sumy's
list), random N sentences (seeded). Scores: ROUGE-1/2/L F1 (``rouge-score``, Porter stemmer),
mean over articles. Target: ours >= TextRank and >= lead-3 on ROUGE-2. Settings:
``[summarize]`` in ``settings.toml``.

    python -m benchmarks.summarize                       # -> summarize.{json,md} in the results folder
    python -m benchmarks.summarize --limit 50 --epochs 1 --out SMOKE_DIR
    python -m benchmarks.summarize --model PIPELINE      # a trained pipeline instead of training one

``--limit`` scores the first n articles only (default: env ``BENCH_LIMIT``, else all); ``--model``
defaults to env ``BENCH_MODEL``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np
import spacy
import torch

from spacy_sparsecode import fit_component
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.tasks.summarize import select_sentences

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/summarize.py): this folder is the import root
    import harness

SETTINGS = harness.settings("summarize")
OURS = "ours (centrality + code coverage + MMR)"


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


def markdown(result: Dict, table: Dict[str, Dict[str, float]], train_s: float, args: argparse.Namespace) -> str:
    model = result["model"]
    rows = [[name, f"{s['rouge1']:.4f}", f"{s['rouge2']:.4f}", f"{s['rougeL']:.4f}", s["seconds"]] for name, s in table.items()]
    trained = (f"loaded from {args.model} (trained on the articles by `sparsecode demo`)" if args.model else
               f"trained on the articles ({train_s:.0f} s incl. tokenising)")
    return "\n".join([
        "# Extractive summarization (BBC News Summary)", "",
        f"{result['n_docs']} articles; every system picks N sentences, N = sentences in the human reference. "
        f"ROUGE F1 (rouge-score, stemmed), mean over articles. Ours: TopK SAE K={model['n_latents']}, "
        f"k={model['k']}, {trained}, coverage weight {args.coverage}, MMR weight {args.redundancy}.", "",
        harness.markdown_table(("system", "ROUGE-1", "ROUGE-2", "ROUGE-L", "seconds"), rows, "lrrrr"), "",
        "Targets: " + "; ".join(f"{k}: {'met' if v else 'missed'}" for k, v in result["targets"].items()) + "."]) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=int(os.environ.get("BENCH_LIMIT", 0)), help="score the first n articles (0: all)")
    parser.add_argument("--model", default=os.environ.get("BENCH_MODEL"), help="a trained pipeline to use instead of training one")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"], help="training epochs (default %(default)s)")
    parser.add_argument("--coverage", type=float, default=SETTINGS["coverage"], help="code-coverage weight (default %(default)s)")
    parser.add_argument("--redundancy", type=float, default=SETTINGS["redundancy"], help="MMR weight (default %(default)s)")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    corpus = harness.load_bbc_summaries(args.shared_corpora)
    if corpus is None:
        print(f"Skipping the summarization benchmark: {args.shared_corpora / harness.corpora.BBC_SUMMARY_FILE} is absent "
              "(the shared BBC News Summary corpus).")
        return
    try:
        from rouge_score import rouge_scorer
    except ImportError as err:
        print(f"Skipping the summarization benchmark: rouge-score is not installed ({err}); pip install rouge-score")
        return
    seed = SETTINGS["seed"]
    torch.set_num_threads(SETTINGS["threads"])
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with harness.Timer() as training:
        docs = list(nlp.pipe(corpus.texts, batch_size=128))
        if args.model:  # a pipeline trained the same way (e.g. `sparsecode demo`: all BBC articles, default config)
            component = spacy.load(args.model).get_pipe("sparsecode")
        else:
            component = nlp.add_pipe("sparsecode", config={"model": {"seed": seed}})
            fit_component(component, docs, TrainConfig(epochs=args.epochs, seed=seed), progress=False)
    model = component.torch_model
    if args.limit:
        corpus, docs = corpus.head(args.limit), docs[: args.limit]

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rng = np.random.default_rng(seed)
    systems: Dict[str, Optional[Callable]] = {
        OURS: None,
        "lead-N": lambda sents, n: list(range(n)),
        "lead-3": lambda sents, n: list(range(min(3, len(sents)))),
        **sumy_systems(),
        "random-N": lambda sents, n: sorted(rng.choice(len(sents), n, replace=False).tolist()),
    }
    scores = {name: {"rouge1": [], "rouge2": [], "rougeL": []} for name in systems}
    seconds = {name: 0.0 for name in systems}
    for summary, doc in zip(corpus.summaries, docs):
        sents = [s for s in doc.sents if s.text.strip()]
        texts = [s.text.strip() for s in sents]
        reference = re.sub(r"\.(?=[A-Z\"'])", ". ", summary)
        n = min(len(list(nlp(reference).sents)), len(sents))
        if n == 0:
            continue
        for name, system in systems.items():
            with harness.Timer() as clock:
                if system is None:
                    chosen = select_sentences(model, component.featurize(sents), n, args.coverage, args.redundancy)
                else:
                    chosen = system(texts, n)
            seconds[name] += clock.seconds
            result = scorer.score(reference, " ".join(texts[i] for i in chosen))
            for metric in scores[name]:
                scores[name][metric].append(result[metric].fmeasure)
    table = {name: {m: round(float(np.mean(v)), 4) for m, v in s.items()} | {"seconds": round(seconds[name], 1)}
             for name, s in scores.items()}
    ours = table[OURS]["rouge2"]
    targets = {"ours >= lead-3 (ROUGE-2)": ours >= table["lead-3"]["rouge2"]}
    if "TextRank" in table:
        targets["ours >= TextRank (ROUGE-2)"] = ours >= table["TextRank"]["rouge2"]
    result = {"corpus": harness.corpora.BBC_SUMMARY_FILE, "n_docs": len(scores["lead-N"]["rouge1"]),
              "length": "N = sentences in the reference summary",
              "model": {"family": "topk", "n_latents": model.config.n_latents, "k": model.config.k, "epochs": args.epochs,
                        "train_s_incl_tokenize": round(training.seconds, 1), "pretrained": args.model, "coverage": args.coverage,
                        "redundancy": args.redundancy},
              "scores": table, "targets": targets, "python": sys.version.split()[0]}
    harness.write_results(args.out, "summarize", result, markdown(result, table, training.seconds, args))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
