"""``sparsecode evaluate``: score a trained pipeline on a corpus with ``metrics``.

The corpus is tokenised, featurised and encoded in chunks (``chunks.map_chunks``, with the
pipeline workers of ``pipelines``). Figures: NPMI of each latent's top-10 words by document
co-occurrence in this corpus (held out when the corpus was not trained on), topic
diversity (unique share of the top-25 words), mean L0, dead-latent share, reconstruction
fit; per latent (``latents``): its top words, their held-out NPMI, whether any document holds
two of them, the documents it serves and the median training document frequency of its top
words, and the share of latents whose top words co-occur in no document (``unsupported_share``);
and, when records have labels, linear-probe accuracy (on the records' train/test split when they
have one, else a seeded stratified 80/20 split) and cluster NMI.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .. import metrics
from ..tasks.topics import topic_words
from .chunks import CorpusOptions, chunked, map_chunks
from .pipelines import encode_chunk, load_pipeline, setup_encoder, stack_parts


def _probe_split(labels: np.ndarray, splits: List[Optional[str]], seed: int) -> Optional[tuple]:
    """Train/test row ids: the records' own split if both parts exist, else stratified 80/20."""
    rows = np.flatnonzero(labels != None)  # noqa: E711  (object array)
    train = [i for i in rows if splits[i] == "train"]
    test = [i for i in rows if splits[i] == "test"]
    if train and test:
        return np.array(train), np.array(test)
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(labels[rows].astype(str), return_counts=True)
    if len(counts) < 2 or len(rows) < 10:
        return None
    stratify = labels[rows].astype(str) if counts.min() >= 2 else None
    return tuple(train_test_split(rows, test_size=0.2, random_state=seed, stratify=stratify))


def _latent_rows(latents: Dict[str, np.ndarray], words: List[List[str]]) -> List[Dict[str, Any]]:
    """One JSON-safe row per latent: its top words and ``metrics.latent_diagnostics``."""
    return [{"latent": j, "top_words": words[j], "npmi_heldout": float(latents["npmi"][j]),
             "supported": bool(latents["supported"][j]), "docs_served": int(latents["docs_served"][j]),
             "top_df_median": float(latents["top_df_median"][j])} for j in range(len(words))]


def evaluate_corpus(
    model: Path,
    corpus: Any,
    reading: CorpusOptions = CorpusOptions(),
    *,
    label_field: Optional[str] = "label",
    seed: int = 0,
    on_chunk: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """All figures for ``model`` on ``corpus`` read as ``reading`` says, as a JSON-safe dict (None where
    not applicable). ``label_field`` holds the labels; ``seed`` seeds the probe's split."""
    _, component = load_pipeline(Path(model))
    reader = reading.read(corpus, label_field=label_field)
    labels: List[Optional[str]] = []
    splits: List[Optional[str]] = []
    codes, bags = [], []
    todo = ((i, [(r.label, r.split) for r in chunk], (None, [r.text for r in chunk]))
            for i, chunk in chunked(reader, reading.chunk_size))
    for _, meta, result in map_chunks(todo, encode_chunk, n_process=reading.n_process, setup=partial(setup_encoder, str(model), bags=True)):
        labels.extend(label for label, _ in meta)
        splits.extend(split for _, split in meta)
        codes.append(result["codes"])
        bags.append(result["bags"])
        if on_chunk is not None:
            on_chunk(len(meta))
    n_latents = component.torch_model.config.n_latents
    C = stack_parts(codes, n_latents)
    X = stack_parts(bags, len(component.bow_vocab))
    weights = component.torch_model.topic_word_weights().float().cpu().numpy()
    topics = metrics.topic_report(weights, reference_heldout=X, top_n=min(10, X.shape[1]), td_top_n=min(25, X.shape[1]))
    latents = metrics.latent_diagnostics(weights, C, X, component.bow_vocab.df, top_n=min(10, X.shape[1]))
    result: Dict[str, Any] = {
        "model": str(model), "corpus": str(corpus), "n_docs": int(C.shape[0]), "n_skipped": reader.n_skipped,
        "n_vocab": int(X.shape[1]), "n_latents": int(n_latents),
        "npmi_heldout": topics["npmi_heldout"], "td": topics["td"],
        "mean_l0": metrics.mean_l0(C), "dead_share": metrics.dead_share(C),
        "reconstruction_fit": component.torch_model.reconstruction_fit(X),
        "probe_accuracy": None, "cluster_nmi": None, "n_labelled": 0,
        "unsupported_share": float(1.0 - latents["supported"].mean()),
        "latents": _latent_rows(latents, topic_words(component, min(10, X.shape[1]))),
    }
    label_array = np.array(labels, dtype=object)
    labelled = np.flatnonzero(label_array != None)  # noqa: E711
    result["n_labelled"] = int(labelled.size)
    if labelled.size and len(set(label_array[labelled])) >= 2:
        result["cluster_nmi"] = metrics.cluster_nmi(C[labelled], label_array[labelled].astype(str))
        split = _probe_split(label_array, splits, seed)
        if split is not None:
            train, test = split
            y = label_array.astype(str)
            result["probe_accuracy"] = metrics.probe_accuracy(C[train], y[train], C[test], y[test], seed=seed)
    return result
