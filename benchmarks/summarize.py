"""Extractive summarization on BBC News Summary and the summarization sets of issue 19 (section 5).

Sets (``[summarize] sets``; ``benchmarks.harness.summaries``): ``bbc`` (``bbc_news_summary.jsonl``
of the shared corpora: 2,225 articles with human extractive summaries; its references glue
sentences without a space after the full stop, so a space is restored), ``plos_papers_en`` (100
PLOS papers, body -> abstract) and ``public_meetings_fr`` (1,069 French meeting transcript
segments -> report segments), both in ``corpora/summarization/``. A set whose file is absent is
skipped with the reason. Per set: ``spacy.blank(lang)`` with the rule-based sentencizer splits
every document into sentences, and the component's default TopK SAE is trained on the set's
documents (never on the references), as the benchmark always did on BBC.

Every system picks the same number of sentences per document, at two lengths: N = the number of
sentences of the reference (split the same way) and N = ``fixed_n`` (3); N is capped at the
document's sentence count. Systems: ours (centrality + code coverage + MMR penalty at the
``coverage`` and ``redundancy`` weights), the ablation without the code terms (coverage 0,
redundancy 0: centrality only), lead-N (first N sentences; at N = 3 it is lead-3), TextRank and
LexRank from ``sumy`` fed the same pre-split sentences (sumy's own tokenizers need NLTK punkt
data that is not available offline, so words come from a regex tokenizer, with sumy's Snowball
stemmer and stop words of the set's language), random N sentences (seeded), and on the
``lead_prior_sets`` ours with the position prior ``--lead-prior W`` for each W of
``lead_priors`` (values chosen on BBC). Scores: ROUGE-1/2/L F1 (``rouge-score``), mean over
documents; English with rouge-score's tokenizer and Porter stemmer, other languages with
lower-cased Unicode word runs and no stemming, the same for every system of a set. Differences
come with a paired bootstrap interval (documents resampled; a meeting's segments together).
Target (issue 19): ours ROUGE-2 >= TextRank and >= LexRank at equal sentence counts, on every set.
Settings: ``[summarize]`` in ``settings.toml``. Nothing is tuned on these sets.

    python -m benchmarks.summarize                       # -> summarize.{json,md} in the results folder
    python -m benchmarks.summarize --limit 50 --epochs 1 --out SMOKE_DIR
    python -m benchmarks.summarize --sets bbc --model PIPELINE   # a trained BBC pipeline instead of training one

``--limit`` scores the first n documents of each set only (default: env ``BENCH_LIMIT``, else all);
``--model`` (BBC only) defaults to env ``BENCH_MODEL``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import spacy
import torch

from spacy_sparsecode import fit_component
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.tasks.summarize import select_sentences

if __package__:
    from . import harness
    from .harness import summaries
else:  # run as a file (python benchmarks/summarize.py): this folder is the import root
    import harness
    from harness import summaries

SETTINGS = harness.settings("summarize")
OURS = "ours (centrality + code coverage + MMR)"
ABLATION = "ours without codes (centrality only)"
LEAD = "lead-N"


def prior_name(weight: float) -> str:
    return f"ours + lead prior {weight:g} (chosen on BBC)"


def sumy_systems(lang: str = "en") -> Dict[str, Callable[[List[str], int], List[int]]]:
    """TextRank and LexRank over pre-split sentences of language ``lang``, or {} with a printed reason."""
    try:
        from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
        from sumy.nlp.stemmers import Stemmer
        from sumy.summarizers.lex_rank import LexRankSummarizer
        from sumy.summarizers.text_rank import TextRankSummarizer
        from sumy.utils import get_stop_words
    except ImportError as err:
        print(f"Skipping TextRank and LexRank: sumy is not installed ({err}); pip install sumy")
        return {}

    language, pattern, extra_stop_words = summaries.sumy_language(lang)
    words = re.compile(pattern)

    class RegexTokenizer:
        def to_words(self, text: str):
            return tuple(words.findall(text))

        def to_sentences(self, text: str):
            return (text,)

    RegexTokenizer.language = language
    tokenizer, stemmer = RegexTokenizer(), Stemmer(language)
    stop_words = frozenset(get_stop_words(language)) | frozenset(extra_stop_words)
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


METRICS = ("rouge1", "rouge2", "rougeL")
LENGTHS = ("reference", "fixed")
PEERS = ("TextRank", "LexRank")
System = Callable[[List[Any], List[str], int], List[int]]


def length_label(length: str, fixed_n: int) -> str:
    return "N = reference" if length == "reference" else f"N = {fixed_n}"


def train_set(summary_set: "summaries.SummarySet", args: argparse.Namespace, seed: int):
    """The set's pipeline (``spacy.blank(lang)``, sentencizer, ``sparsecode`` trained on the set's
    documents, or ``--model`` for BBC), its Docs and the seconds, tokenising included."""
    nlp = spacy.blank(summary_set.lang)
    nlp.add_pipe("sentencizer")
    with harness.Timer() as training:
        docs = list(nlp.pipe(summary_set.texts, batch_size=128))
        if args.model and summary_set.name == summaries.BBC:  # e.g. `sparsecode demo`: all BBC articles, default config
            component = spacy.load(args.model).get_pipe("sparsecode")
        else:
            component = nlp.add_pipe("sparsecode", config={"model": {"seed": seed}})
            fit_component(component, docs, TrainConfig(epochs=args.epochs, seed=seed), progress=False)
    return component, docs, training.seconds


def verdict(difference: Dict[str, float]) -> str:
    """Whether a paired difference is above 0, below 0, or neither at the interval's level."""
    if difference["low"] > 0:
        return "yes"
    if difference["high"] < 0:
        return "no (worse)"
    return "no (not significant)"


def evaluate_set(summary_set: "summaries.SummarySet", args: argparse.Namespace) -> Dict[str, Any]:
    """Every system on one set at both lengths: mean ROUGE, paired ROUGE-2 differences, targets."""
    seed = SETTINGS["seed"]
    n_in_set = len(summary_set)
    component, docs, train_s = train_set(summary_set, args, seed)
    model = component.torch_model
    if args.limit:
        summary_set, docs = summary_set.head(args.limit), docs[: args.limit]
    splitter = spacy.blank(summary_set.lang)
    splitter.add_pipe("sentencizer")
    reference_n = [len([s for s in splitter(r).sents if s.text.strip()]) for r in summary_set.references]
    scorer = summaries.rouge_scorer(summary_set.lang)
    priors = list(args.lead_priors) if summary_set.name in SETTINGS["lead_prior_sets"] else []
    sumy = sumy_systems(summary_set.lang)

    def ours(coverage: float, redundancy: float, lead_prior: float = 0.0) -> System:
        return lambda sents, texts, n: select_sentences(model, component.featurize(sents), n, coverage, redundancy, lead_prior)

    lengths: Dict[str, Any] = {}
    for length in LENGTHS:
        rng = np.random.default_rng(seed)
        systems: Dict[str, System] = {
            OURS: ours(args.coverage, args.redundancy),
            ABLATION: ours(0.0, 0.0),
            **{prior_name(w): ours(args.coverage, args.redundancy, w) for w in priors},
            LEAD: lambda sents, texts, n: list(range(n)),
            **{name: (lambda sents, texts, n, run=run: run(texts, n)) for name, run in sumy.items()},
            "random-N": lambda sents, texts, n: sorted(rng.choice(len(texts), n, replace=False).tolist()),
        }
        scores = {name: {m: [] for m in METRICS} for name in systems}
        seconds = dict.fromkeys(systems, 0.0)
        kept, selected, every_sentence = [], [], 0
        with harness.Timer() as clock:
            for i, (doc, reference, target, doc_id) in enumerate(zip(docs, summary_set.references, reference_n, summary_set.ids)):
                sents = [s for s in doc.sents if s.text.strip()]
                texts = [s.text.strip() for s in sents]
                n = min(target if length == "reference" else args.fixed_n, len(sents))
                if n == 0:
                    continue
                kept.append(doc_id)
                selected.append(n)
                every_sentence += n == len(sents)
                for name, system in systems.items():
                    with harness.Timer() as timer:
                        chosen = system(sents, texts, n)
                    seconds[name] += timer.seconds
                    scored = scorer.score(reference, " ".join(texts[j] for j in chosen))
                    for metric in METRICS:
                        scores[name][metric].append(scored[metric].fmeasure)
                if (i + 1) % 250 == 0:
                    print(f"  {summary_set.name}, {length_label(length, args.fixed_n)}: {i + 1}/{len(docs)} documents "
                          f"({clock.seconds:.0f} s)", flush=True)
        table = {name: {m: round(float(np.mean(v)), 4) for m, v in s.items()} | {"seconds": round(seconds[name], 1)}
                 for name, s in scores.items()}
        groups = summaries.document_groups(kept)

        def difference(a: str, b: str) -> Dict[str, float]:
            diff = np.subtract(scores[a]["rouge2"], scores[b]["rouge2"])
            found = summaries.paired_bootstrap(diff, groups, SETTINGS["bootstrap"], seed)
            return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in found.items()}

        differences = {f"ours - {peer}": difference(OURS, peer) for peer in PEERS if peer in table}
        differences["ours - without codes"] = difference(OURS, ABLATION)
        differences.update({f"ours + lead prior {w:g} - {LEAD}": difference(prior_name(w), LEAD) for w in priors})
        targets = {f"ours >= {peer} (ROUGE-2)": bool(table[OURS]["rouge2"] >= table[peer]["rouge2"]) for peer in PEERS
                   if peer in table}
        lengths[length] = {
            "n": length_label(length, args.fixed_n), "n_docs": len(kept), "mean_sentences_selected": round(float(np.mean(selected)), 2),
            "docs_where_n_takes_every_sentence": every_sentence, "scores": table, "rouge2_differences": differences,
            "targets": targets, "target_met": bool(targets) and all(targets.values()) and len(targets) == len(PEERS),
            "codes_help": verdict(differences["ours - without codes"]), "scoring_s": round(clock.seconds, 1)}
        print(f"  {summary_set.name}, {length_label(length, args.fixed_n)}: done in {clock.seconds:.0f} s", flush=True)
    doc_sentences = [len([s for s in doc.sents if s.text.strip()]) for doc in docs]
    return {
        "name": summary_set.name, "source": summary_set.source, "lang": summary_set.lang, "docs_in_set": n_in_set,
        "n_docs": len(docs), "mean_doc_sentences": round(float(np.mean(doc_sentences)), 1),
        "mean_reference_sentences": round(float(np.mean(reference_n)), 1),
        "rouge_tokenization": summaries.rouge_tokenization(summary_set.lang),
        "model": {"family": "topk", "n_latents": model.config.n_latents, "k": model.config.k, "epochs": args.epochs,
                  "train_s_incl_tokenize": round(train_s, 1), "pretrained": args.model if summary_set.name == summaries.BBC else None,
                  "coverage": args.coverage, "redundancy": args.redundancy},
        "lead_priors": priors, "lengths": lengths}


def _ordered(scores: Dict[str, Any], priors: List[float]) -> List[str]:
    """The systems in table order (results read back from JSON have their keys sorted)."""
    first = [OURS, ABLATION, *(prior_name(w) for w in priors), LEAD, *PEERS, "random-N"]
    return [n for n in first if n in scores] + sorted(n for n in scores if n not in first)


def _ordered_differences(differences: Dict[str, Any]) -> List[str]:
    first = [*(f"ours - {peer}" for peer in PEERS), "ours - without codes"]
    return [k for k in first if k in differences] + sorted(k for k in differences if k not in first)


def _overall(result: Dict[str, Any]) -> List[str]:
    """Two generated sentences: where the target holds, and where the code terms help."""
    missed = [f"{name} at {b['n']}" for name, s in result["sets"].items() for b in (s["lengths"][x] for x in LENGTHS)
              if not b["target_met"]]
    cells = [(name, b) for name, s in result["sets"].items() for b in (s["lengths"][x] for x in LENGTHS)]
    helped = [f"{name} at {b['n']} ({b['rouge2_differences']['ours - without codes']['mean']:+.4f})" for name, b in cells
              if b["codes_help"] == "yes"]
    hurt = [f"{name} at {b['n']} ({b['rouge2_differences']['ours - without codes']['mean']:+.4f})" for name, b in cells
            if b["codes_help"] == "no (worse)"]
    target = ("Target met on every set at both lengths." if not missed else
              "Target **missed** on: " + "; ".join(missed) + ".")
    codes = (f"Code terms (ours − without codes, ROUGE-2): significantly better on {len(helped)} of {len(cells)} set × length "
             f"cells" + (f" ({'; '.join(helped)})" if helped else "") + (f", significantly worse on {'; '.join(hurt)}" if hurt else "")
             + ", no significant difference on the rest"
             + (": the code terms do not earn their place on every set." if len(helped) < len(cells) else "."))
    return [target + " " + codes, ""]


def _difference(d: Dict[str, float]) -> str:
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def markdown(result: Dict[str, Any]) -> str:
    settings = result["settings"]
    fixed = settings["fixed_n"]
    lines = [
        "# Extractive summarization: BBC News Summary and the issue-19 sets", "",
        f"Every system picks the same number N of sentences per document (spaCy's rule-based sentencizer), at two lengths: "
        f"N = the sentences of the human reference, and N = {fixed} (capped at the document's sentences). ROUGE F1, mean over "
        f"documents (rouge-score; English stemmed, French on lower-cased Unicode words, see each set). Ours: the component's "
        f"default TopK SAE trained on each set's own documents ({settings['epochs']} epochs), coverage weight "
        f"{settings['coverage']}, MMR weight {settings['redundancy']}; *without codes* is the same selection with both code "
        f"terms at 0 (word-overlap centrality only). TextRank and LexRank: sumy on the same sentences. No weight was tuned "
        f"on these sets. Differences: ROUGE-2, mean per document with a {settings['bootstrap']}-resample paired bootstrap "
        f"95% interval (a meeting's segments resampled together). Target (issue 19, section 5): ours ROUGE-2 >= TextRank and "
        f">= LexRank at equal sentence counts.", ""]
    for length in LENGTHS:
        label = length_label(length, fixed)
        rows = []
        for name, s in result["sets"].items():
            block = s["lengths"][length]
            r2 = {k: v["rouge2"] for k, v in block["scores"].items()}
            rows.append([name, s["lang"], block["n_docs"], f"{r2[OURS]:.4f}", f"{r2[ABLATION]:.4f}",
                         *(f"{r2[p]:.4f}" if p in r2 else "-" for p in PEERS), f"{r2[LEAD]:.4f}", f"{r2['random-N']:.4f}",
                         "met" if block["target_met"] else "missed",
                         f"{block['codes_help']}: {_difference(block['rouge2_differences']['ours - without codes'])}"])
        lines += [f"## ROUGE-2 at {label}", "",
                  harness.markdown_table(("set", "lang", "docs", "ours", "without codes", *PEERS, "lead-N", "random-N",
                                          "target", "codes help (ours − without codes)"), rows, "llrrrrrrrll"), ""]
    lines += _overall(result)
    for name, s in result["sets"].items():
        model = s["model"]
        trained = (f"loaded from {model['pretrained']}" if model["pretrained"] else
                   f"trained on the set's {s['docs_in_set']} documents ({model['train_s_incl_tokenize']:.0f} s incl. tokenising)")
        ref, fix = s["lengths"]["reference"], s["lengths"]["fixed"]
        names = _ordered(ref["scores"], s["lead_priors"])
        rows = [[n, *(f"{ref['scores'][n][m]:.4f}" for m in METRICS), *(f"{fix['scores'][n][m]:.4f}" for m in METRICS),
                 ref["scores"][n]["seconds"]] for n in names]
        diffs = [[k, _difference(ref["rouge2_differences"][k]), _difference(fix["rouge2_differences"][k])]
                 for k in _ordered_differences(ref["rouge2_differences"])]
        lines += [f"## {name} ({s['lang']}, {s['n_docs']} documents)", "",
                  f"Source `{s['source'].split('/')[-1]}`. Documents: {s['mean_doc_sentences']} sentences on average; "
                  f"references: {s['mean_reference_sentences']} sentences. Model: TopK K={model['n_latents']}, k={model['k']}, "
                  f"{trained}. ROUGE tokenisation: {s['rouge_tokenization']}. Mean N: {ref['mean_sentences_selected']} "
                  f"(reference) and {fix['mean_sentences_selected']} (N = {fixed}); documents where N takes every sentence (all "
                  f"systems then agree): {ref['docs_where_n_takes_every_sentence']} and {fix['docs_where_n_takes_every_sentence']}. "
                  f"Scoring: {ref['scoring_s']:.0f} s + {fix['scoring_s']:.0f} s.", "",
                  harness.markdown_table(("system", "R-1", "R-2", "R-L", f"R-1 @{fixed}", f"R-2 @{fixed}", f"R-L @{fixed}",
                                          "seconds (N = ref)"), rows, "lrrrrrrr"), "",
                  harness.markdown_table(("ROUGE-2 difference (95% interval)", "N = reference", f"N = {fixed}"), diffs, "lrr"), "",
                  "Target (ours R-2 >= TextRank and >= LexRank): "
                  + "; ".join(f"{b['n']}: " + ", ".join(f"{k.split(' (')[0]} {'met' if v else 'missed'}" for k, v in sorted(b["targets"].items(),
                                                                                                               reverse=True))
                              for b in (ref, fix)) + ". "
                  f"Codes help (ours − without codes > 0, interval above 0): {ref['codes_help']} at N = reference, "
                  f"{fix['codes_help']} at N = {fixed}.", ""]
        if s["lead_priors"]:
            lead3 = fix["scores"][LEAD]["rouge2"]
            parts = [f"W = {w:g}: {fix['scores'][prior_name(w)]['rouge2']:.4f} @{fixed} "
                     f"({ref['scores'][prior_name(w)]['rouge2']:.4f} at N = reference)" for w in s["lead_priors"]]
            lines += [f"Position prior (`--lead-prior W`, gain W / (1 + position); the values were **chosen on {name}**, so "
                      f"this is not a held-out result): lead-{fixed} ROUGE-2 {lead3:.4f} (lead-N at N = reference "
                      f"{ref['scores'][LEAD]['rouge2']:.4f}); ours {fix['scores'][OURS]['rouge2']:.4f} @{fixed} "
                      f"({ref['scores'][OURS]['rouge2']:.4f} at N = reference); " + "; ".join(parts) + ".", ""]
    if result["skipped"]:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in result["skipped"].items()) + ".", ""]
    lines += [f"Wall time {result['wall_s']:.0f} s (torch threads: {settings['threads']}), Python {result['python']}."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETTINGS["sets"], help="sets to score (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=int(os.environ.get("BENCH_LIMIT", 0)), help="score the first n documents of each set (0: all)")
    parser.add_argument("--model", default=os.environ.get("BENCH_MODEL"), help="a trained pipeline to use on BBC instead of training one")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"], help="training epochs (default %(default)s)")
    parser.add_argument("--coverage", type=float, default=SETTINGS["coverage"], help="code-coverage weight (default %(default)s)")
    parser.add_argument("--redundancy", type=float, default=SETTINGS["redundancy"], help="MMR weight (default %(default)s)")
    parser.add_argument("--fixed-n", type=int, default=SETTINGS["fixed_n"], help="the fixed length N (default %(default)s)")
    parser.add_argument("--lead-priors", type=float, nargs="*", default=SETTINGS["lead_priors"],
                        help="position-prior weights W for ours on [summarize] lead_prior_sets (default %(default)s)")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    try:
        import rouge_score  # noqa: F401
    except ImportError as err:
        print(f"Skipping the summarization benchmark: rouge-score is not installed ({err}); pip install rouge-score")
        return
    torch.set_num_threads(SETTINGS["threads"])
    sets: Dict[str, Any] = {}
    skipped: Dict[str, str] = {}
    with harness.Timer() as wall:
        for name in args.sets:
            summary_set = summaries.load_summary_set(name, args.shared_corpora)
            if summary_set is None:
                skipped[name] = f"{summaries.set_file(name, args.shared_corpora)} is absent"
                print(f"Skipping {name}: {skipped[name]}", flush=True)
                continue
            print(f"{name}: {len(summary_set)} documents ({summary_set.lang})", flush=True)
            with harness.Timer() as clock:
                sets[name] = evaluate_set(summary_set, args)
            sets[name]["wall_s"] = round(clock.seconds, 1)
    if not sets:
        print("No summarization set was found: nothing to score.")
        return
    result = {"sets": sets, "skipped": skipped, "wall_s": round(wall.seconds, 1), "python": sys.version.split()[0],
              "length": {"reference": "N = sentences in the reference summary", "fixed": f"N = {args.fixed_n}"},
              "settings": {"seed": SETTINGS["seed"], "epochs": args.epochs, "coverage": args.coverage, "redundancy": args.redundancy,
                           "fixed_n": args.fixed_n, "lead_priors": args.lead_priors, "lead_prior_sets": SETTINGS["lead_prior_sets"],
                           "bootstrap": SETTINGS["bootstrap"], "threads": SETTINGS["threads"], "limit": args.limit},
              "targets": {name: {s["lengths"][length]["n"]: s["lengths"][length]["target_met"] for length in LENGTHS}
                          for name, s in sets.items()},
              "codes_help": {name: {s["lengths"][length]["n"]: s["lengths"][length]["codes_help"] for length in LENGTHS}
                             for name, s in sets.items()}}
    harness.write_results(args.out, "summarize", result, markdown(result))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
