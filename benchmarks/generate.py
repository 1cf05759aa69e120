"""Generation from a VAE on BBC News: are generated codes and bags like real ones?

Data: the built-in BBC corpus (``spacy_sparsecode.text.corpora.iter_bbc``, 2,225 articles), split
80/20 by a seeded permutation. A VAE (``--family``: the Gaussian beta-VAE with its background
word bias by default, or the ProdLDA-style logistic-normal VAE; ``sparsecode`` component on
``spacy.blank("en")``, fast trainer ``fit_component``) is trained on the 80%; everything
below is measured on the held-out 20% (n_test documents).

- L0: generated codes (``tasks.generate.sample``: n_test prior draws, each keeping as many
  of its largest proportions as an L0 drawn from the *training* codes' L0s) vs the held-out
  and the training codes: mean, quartiles and the total-variation distance between L0
  histograms (also for the raw prior draws under the model's own code rule). The training
  codes' own TV distance to the held-out codes is the reference for the held-out check.
- Coherence: mean NPMI (``metrics.npmi``, held-out document co-occurrence) of the top-10
  words of each generated bag, of each held-out document's decoded bag, and of random bags
  (10 distinct words drawn by training-corpus frequency).
- Perplexity-style check: each held-out bag's per-word perplexity under the best of n_test
  candidate word distributions (the model's ``word_distribution``, 1% unigram smoothing):
  generated codes vs the unigram distribution (the best any bag of words drawn at random by
  frequency can do). Generated must beat it. References: real training codes, and random
  codes (random latents, same L0s, Dirichlet(1) proportions) decoded by the same decoder,
  which measure the decoder's topics rather than the sampler.
- Cosine check: each generated code becomes a bag of a held-out document's length
  (``tasks.generate.sample_bags``: nucleus sampling, top_p 0.9, from the model's own
  ``p(w | code)``); random bags are drawn the same way from the training unigram; both tf-idf
  weighted and compared (cosine) with the held-out tf-idf bags: mean over bags of the min and
  of the mean top-5 distance. Also plain multinomial bags and the expected bags (the
  distributions themselves) of both.

Settings: ``[generate]`` in ``settings.toml``.

    python -m benchmarks.generate [--family gaussian|logistic_normal] [--epochs N] [--out DIR]

writes ``generate[-FAMILY].{json,md}`` to the results folder (the default family writes
``generate.*``), with three printed examples for the README. ``--epochs`` defaults to env
``BENCH_EPOCHS``, else the settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Dict, List, Optional

import numpy as np
import scipy.sparse as sp
import spacy
import torch

from spacy_sparsecode import fit_component
from spacy_sparsecode.codes import SparseCode, SparseCodes
from spacy_sparsecode.metrics import npmi, top_words
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.tasks import generate as gen
from spacy_sparsecode.tasks.summarize import sentence_spans
from spacy_sparsecode.text.featurize import scale_counts

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/generate.py): this folder is the import root
    import harness

SETTINGS = harness.settings("generate")
SEED = SETTINGS["seed"]
#: The VAEs that generate: family -> (title, architecture).
FAMILIES = {"gaussian": ("Gaussian beta-VAE", "spacy-sparsecode.GaussianVAE.v1"),
            "logistic_normal": ("logistic-normal VAE", "spacy-sparsecode.LogisticNormalVAE.v1")}
MODEL = {**SETTINGS["model"], "seed": SEED}
TOP_P = SETTINGS["top_p"]


def l0_stats(l0: np.ndarray) -> Dict[str, float]:
    q = np.percentile(l0, [25, 50, 75])
    return {"mean": round(float(l0.mean()), 3), "q25": float(q[0]), "median": float(q[1]), "q75": float(q[2])}


def tv_distance(a: np.ndarray, b: np.ndarray, top: int) -> float:
    pa = np.bincount(a, minlength=top + 1)[: top + 1] / a.size
    pb = np.bincount(b, minlength=top + 1)[: top + 1] / b.size
    return round(float(0.5 * np.abs(pa - pb).sum()), 4)


def bag_npmi(scores: np.ndarray, reference: sp.csr_matrix, top_n: int = 10) -> float:
    return round(float(npmi(top_words(scores, top_n), reference).mean()), 4)


def distances(bags: sp.csr_matrix, heldout_tfidf: sp.csr_matrix, idf: np.ndarray) -> Dict[str, float]:
    """Mean over bags of the min and the mean top-5 cosine distance to the held-out tf-idf bags."""
    sims = (scale_counts(sp.csr_matrix(bags, dtype=np.float32), "tfidf", idf) @ heldout_tfidf.T).toarray()
    sims = -np.sort(-sims, axis=1)
    return {"min": round(float((1 - sims[:, 0]).mean()), 4), "top5": round(float((1 - sims[:, :5]).mean()), 4)}


def best_perplexity(word_weights: np.ndarray, heldout_counts: sp.csr_matrix, unigram: np.ndarray) -> Dict[str, float]:
    """Per-word perplexity of each held-out bag under its best candidate distribution.

    Each row of ``word_weights`` becomes a distribution (smoothed with 1% of the unigram so no
    word has probability 0); for every held-out document the candidate giving it the lowest
    perplexity is taken. Returns the median and the geometric mean over documents.
    """
    probs = np.atleast_2d(np.asarray(word_weights, dtype=np.float64))
    probs = probs / probs.sum(axis=1, keepdims=True)
    log_p = np.log(0.99 * probs + 0.01 * unigram[None, :])  # (n_candidates, V)
    lengths = np.asarray(heldout_counts.sum(axis=1)).ravel()
    mean_log_lik = np.asarray(heldout_counts @ log_p.T) / lengths[:, None]  # (n_docs, n_candidates)
    best = np.exp(-mean_log_lik.max(axis=1))
    return {"median": round(float(np.median(best)), 1), "geometric_mean": round(float(np.exp(np.log(best).mean())), 1)}


def random_codes(n: int, n_latents: int, real_l0: np.ndarray, rng: np.random.Generator) -> SparseCodes:
    """Codes with uniformly random latents (L0 drawn from ``real_l0``) and Dirichlet(1) proportions."""
    dense = np.zeros((n, n_latents), dtype=np.float32)
    for i, l0 in enumerate(rng.choice(real_l0[real_l0 > 0], size=n)):
        dense[i, rng.choice(n_latents, int(l0), replace=False)] = rng.dirichlet(np.ones(int(l0)))
    return SparseCodes(sp.csr_matrix(dense))


def multinomial_bags(probs: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> sp.csr_matrix:
    probs = np.atleast_2d(probs).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = [rng.multinomial(int(n), probs[i % probs.shape[0]]) for i, n in enumerate(lengths)]
    return sp.csr_matrix(np.vstack(rows).astype(np.float32))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default=SETTINGS["family"], help="which VAE generates")
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("BENCH_EPOCHS", SETTINGS["epochs"])),
                        help="training epochs (default %(default)s)")
    harness.add_path_arguments(parser)
    args = parser.parse_args(argv)
    family, train_settings = args.family, {**SETTINGS["train"], "epochs": args.epochs, "seed": SEED}
    title, architecture = FAMILIES[family]
    torch.set_num_threads(SETTINGS["threads"])
    total = harness.Timer()
    with harness.Timer() as tokenizing:
        corpus = harness.load_bbc()
        rng = np.random.default_rng(SEED)
        split = harness.bbc_split(corpus, rng, stratified=False).sorted()  # draws from rng, which draws on below
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        docs = list(nlp.pipe(corpus.texts, batch_size=128))
        train_docs, test_docs = [docs[i] for i in split.train], [docs[i] for i in split.test]

    with harness.Timer() as training:
        component = nlp.add_pipe("sparsecode", config={"model": {"@architectures": architecture, **MODEL}})
        fit_component(component, train_docs, TrainConfig(**train_settings), progress=False)
    model = component.torch_model
    strings, idf = component.bow_vocab.strings, component.bow_vocab.idf()

    evaluating = harness.Timer()
    X_train, X_test = component.featurize(train_docs), component.featurize(test_docs)
    X_test = X_test[np.diff(X_test.indptr) > 0]
    n_test = X_test.shape[0]
    train_l0 = model.encode(X_train).l0
    real = model.encode(X_test)
    raw = model.sample(n_test, torch.Generator().manual_seed(SEED))
    generated = gen.sample(model, n_test, train_l0, SEED)
    k = model.config.k
    l0 = {"real held-out": l0_stats(real.l0), "generated (L0-matched)": l0_stats(generated.l0),
          "generated (raw prior draws)": l0_stats(raw.l0)}
    tv = {"generated (L0-matched)": tv_distance(generated.l0, real.l0, k), "generated (raw prior draws)": tv_distance(raw.l0, real.l0, k)}

    # Coherence of top-10 words of bags.
    unigram = np.asarray(X_train.sum(axis=0)).ravel().astype(np.float64)
    unigram /= unigram.sum()
    gen_scores = gen.word_scores(model, generated)
    real_scores = gen.word_scores(model, real)
    rand_scores = np.zeros((n_test, len(strings)), dtype=np.float32)
    for i in range(n_test):
        rand_scores[i, rng.choice(len(strings), 10, replace=False, p=unigram)] = np.arange(10, 0, -1)
    coherence = {"generated bags": bag_npmi(gen_scores[generated.l0 > 0], X_test),
                 "real held-out decoded bags": bag_npmi(real_scores, X_test),
                 "random bags (by corpus frequency)": bag_npmi(rand_scores, X_test)}

    # Distance to held-out real bags.
    heldout_tfidf = scale_counts(X_test, "tfidf", idf)
    lengths = rng.choice(np.asarray(X_test.sum(axis=1)).ravel().astype(int), n_test)
    probs = gen.generative_distribution(model, generated)  # the model's own p(w | code)
    train_sample = X_train[rng.choice(X_train.shape[0], n_test, replace=False)]
    dist = {"generated bags (nucleus 0.9, held-out lengths)": distances(gen.sample_bags(model, generated, lengths, TOP_P, SEED), heldout_tfidf, idf),
            "random bags (unigram nucleus 0.9, same lengths)": distances(gen.nucleus_sample(unigram, lengths, TOP_P, SEED), heldout_tfidf, idf),
            "generated bags (plain multinomial)": distances(multinomial_bags(probs, lengths, rng), heldout_tfidf, idf),
            "random bags (plain unigram multinomial)": distances(multinomial_bags(unigram, lengths, rng), heldout_tfidf, idf),
            "generated word distributions (expected bags)": distances(sp.csr_matrix(probs), heldout_tfidf, idf),
            "unigram distribution (expected random bag)": distances(sp.csr_matrix(unigram[None, :]), heldout_tfidf, idf),
            "real training documents (reference)": distances(train_sample, heldout_tfidf, idf)}
    # Perplexity-style check: held-out bags under the best of n_test candidate word distributions.
    rand_codes = random_codes(n_test, model.config.n_latents, train_l0, rng)
    train_codes = model.encode(X_train[rng.choice(X_train.shape[0], n_test, replace=False)])
    def word_probs(codes: SparseCodes) -> np.ndarray:  # the model's own p(w | code)
        return model.word_distribution(codes).float().cpu().numpy()

    perplexity = {"generated codes (prior samples)": best_perplexity(word_probs(generated), X_test, unigram),
                  "random codes (random latents, Dirichlet(1) values)": best_perplexity(word_probs(rand_codes), X_test, unigram),
                  "unigram distribution (one candidate)": best_perplexity(unigram, X_test, unigram),
                  "real training codes (reference)": best_perplexity(word_probs(train_codes), X_test, unigram),
                  "the held-out documents' own codes (reference)": best_perplexity(word_probs(real), X_test, unigram)}
    tv["generated (L0-matched) vs training codes"] = tv_distance(generated.l0, train_l0, k)
    tv["real training codes vs held-out codes (reference)"] = tv_distance(train_l0, real.l0, k)
    eval_s = evaluating.seconds

    # Examples: sentence index over the training corpus's sentences.
    indexing = harness.Timer()
    sents = [s for d in train_docs for s in sentence_spans(d, warn=False) if 40 <= len(s.text) <= 300 and "\n" not in s.text.strip()]
    index = gen.SentenceIndex.build(component.featurize(s.as_doc() for s in sents), [" ".join(s.text.split()) for s in sents], idf)
    samples = gen.describe(model, gen.sample(model, 3, train_l0, SEED + 1), strings, index, n_keywords=8, n_sentences=2)
    source = 0  # the first held-out article
    near_codes = gen.near(model, X_test[source], temperature=1.0, n=2, seed=SEED, real_l0=train_l0)
    near_rows = gen.describe(model, _with_own_code(real[source], near_codes), strings, index, n_keywords=8, n_sentences=1)
    path = gen.interpolate(X_test[0], X_test[n_test - 1], 4, model=model)
    path_rows = gen.describe(model, path, strings, None, n_keywords=8)
    index_s = indexing.seconds

    gen_ppl = perplexity["generated codes (prior samples)"]["median"]
    # The check is "closer to held-out bags than random bags": bags of words drawn at
    # random by corpus frequency, whose best candidate distribution is the unigram itself.
    targets = {
        "held-out perplexity under generated codes < under the unigram (random bags by frequency)":
            gen_ppl < perplexity["unigram distribution (one candidate)"]["median"],
        "generated bags closer (tf-idf cosine, min) to held-out than random unigram bags":
            dist["generated bags (nucleus 0.9, held-out lengths)"]["min"] < dist["random bags (unigram nucleus 0.9, same lengths)"]["min"],
        "generated NPMI > random NPMI": coherence["generated bags"] > coherence["random bags (by corpus frequency)"],
        # Real training codes are themselves this far from the held-out codes (the encoder
        # codes unseen documents more densely): generated codes can only be asked to match that.
        "L0-matched TV distance to held-out codes <= the training codes' + 0.05":
            tv["generated (L0-matched)"] <= tv["real training codes vs held-out codes (reference)"] + 0.05,
        "L0-matched TV distance to training codes < 0.1": tv["generated (L0-matched) vs training codes"] < 0.1,
    }
    # References, not targets: random codes are decoded by the trained decoder, so they measure
    # the decoder's topics, not the sampler (real training codes do no better than them).
    references = {
        "perplexity: generated / real training codes": round(gen_ppl / perplexity["real training codes (reference)"]["median"], 3),
        "perplexity: generated / random codes": round(gen_ppl / perplexity["random codes (random latents, Dirichlet(1) values)"]["median"], 3),
        "perplexity: real training codes / random codes": round(perplexity["real training codes (reference)"]["median"]
                                                                / perplexity["random codes (random latents, Dirichlet(1) values)"]["median"], 3),
    }
    result = {
        "corpus": "bbc", "n_train": len(train_docs), "n_test": n_test, "split": f"seeded permutation (seed {SEED}), 80/20",
        "model": {"family": family, **MODEL, "n_vocab": len(strings)}, "train": train_settings,
        "seconds": {"tokenize": round(tokenizing.seconds, 1), "train": round(training.seconds, 1), "evaluate": round(eval_s, 1),
                    "index_and_examples": round(index_s, 1), "total": round(total.seconds, 1)},
        "l0": l0, "l0_tv_distance_to_real": tv, "npmi_top10": coherence, "cosine_distance_to_heldout": dist, "best_candidate_perplexity": perplexity,
        "targets": targets, "references": references, "examples": {"samples": samples, "near": near_rows, "interpolate": path_rows},
        "python": sys.version.split()[0], "torch": torch.__version__,
    }
    stem = "generate" if family == SETTINGS["family"] else f"generate-{family}"
    prior = "ex-post mixture prior" if getattr(model, "has_fitted_prior", False) else "training prior"
    harness.write_results(args.out, stem, result, markdown(result, title, prior, float(train_l0.mean())))


def markdown(result: Dict, title: str, prior: str, train_l0_mean: float) -> str:
    """The report: L0, coherence, perplexity and distance tables, targets, then the examples."""
    m, train, n_test, tv = result["model"], result["train"], result["n_test"], result["l0_tv_distance_to_real"]
    examples = result["examples"]
    lines = [f"# Generation (BBC, {title})", "",
             f"Trained on {result['n_train']} articles (seeded 80%), measured on {n_test} held-out articles. Model: "
             f"K={m['n_latents']}, k={m['k']}, code_threshold={m['code_threshold']}, V={m['n_vocab']}; {train['epochs']} epochs, "
             f"batch {train['batch_size']}, lr {train['lr']} ({result['seconds']['train']:.0f} s training, "
             f"{result['seconds']['total']:.0f} s in all, {SETTINGS['threads']} CPU threads). "
             f"Generated = {n_test} draws from the {prior}, each keeping as many latents as an L0 drawn from the training codes.", "",
             "## L0 of codes", "",
             harness.markdown_table(("codes", "mean", "q25", "median", "q75", "TV distance to real"),
                                    [[name, s["mean"], f"{s['q25']:g}", f"{s['median']:g}", f"{s['q75']:g}", tv.get(name, "")]
                                     for name, s in result["l0"].items()], "lrrrrr"),
             "", f"TV distance of the L0-matched codes to the training codes' L0s (the ones drawn from): "
             f"{tv['generated (L0-matched) vs training codes']}; mean L0 of the training codes {train_l0_mean:.3f} "
             f"vs the held-out codes {result['l0']['real held-out']['mean']}; TV distance of the real training codes' L0s to the "
             f"held-out codes' L0s: {tv['real training codes vs held-out codes (reference)']} (the encoder's own "
             "train/held-out gap, which bounds how close codes drawn from training L0s can get).",
             "", "## Coherence: mean NPMI of top-10 words (held-out co-occurrence)", "",
             harness.markdown_table(("bags", "NPMI"), [[name, f"{v:.4f}"] for name, v in result["npmi_top10"].items()], "lr"),
             "", "## Perplexity-style check: held-out bags under the best of n candidate word distributions (lower = closer)", "",
             f"Each held-out article takes the candidate (of {n_test}) under which its words are most likely; per-word perplexity.", "",
             harness.markdown_table(("candidates", "median", "geometric mean"),
                                    [[name, f"{v['median']:,.1f}", f"{v['geometric_mean']:,.1f}"]
                                     for name, v in result["best_candidate_perplexity"].items()], "lrr"),
             "", "## Cosine distance to held-out real tf-idf bags (lower = closer)", "",
             harness.markdown_table(("bags", "mean min distance", "mean top-5 distance"),
                                    [[name, f"{v['min']:.4f}", f"{v['top5']:.4f}"]
                                     for name, v in result["cosine_distance_to_heldout"].items()], "lrr"),
             "", "Targets: " + "; ".join(f"{k}: {'met' if v else 'missed'}" for k, v in result["targets"].items()) + ".", "",
             "References (median perplexity ratios): " + "; ".join(f"{k} = {v}" for k, v in result["references"].items()) + ".", "",
             "## Examples", "", "Three codes sampled from the ex-post prior (keywords, then the two closest real training sentences):", ""]
    for i, row in enumerate(examples["samples"], 1):
        lines.append(f"{i}. **{' · '.join(row['keywords'])}**")
        lines += [f"   > {s}" for s in row["sentences"]]
    lines += ["", "Near a held-out document (temperature 1.0): its own code, then two draws around its posterior:", ""]
    for label, row in zip(["document", "near 1", "near 2"], examples["near"]):
        lines.append(f"- {label}: **{' · '.join(row['keywords'])}** — {(row['sentences'] or [''])[0]}")
    lines += ["", "Interpolating between two held-out documents through the posterior (4 steps):", ""]
    lines += [f"- t={i / 3:.2f}: {' · '.join(row['keywords'])}" for i, row in enumerate(examples["interpolate"])]
    return "\n".join(lines) + "\n"


def _with_own_code(code: SparseCode, codes: SparseCodes) -> SparseCodes:
    """A document's own code followed by codes generated around it."""
    return SparseCodes(sp.vstack([sp.csr_matrix((code.values, code.indices, [0, code.nnz]), shape=(1, code.dim)), codes.matrix],
                                 format="csr"))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
