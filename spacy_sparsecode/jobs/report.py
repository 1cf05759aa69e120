"""Visual report of a trained pipeline: PNG plots + one self-contained HTML page.

``build_report(model_dir, out_dir)`` writes ``training.png`` (loss, L0, dead share per epoch,
from a ``history.json`` next to the model, or the history ``sparsecode train`` keeps in its
``meta.json``), ``topics.png`` (top words per
latent as a grid), ``doc_map.png`` (documents by code in 2-D: UMAP if installed, else PCA,
coloured by label), ``l0_hist.png`` and ``peers.png`` (held-out NPMI against train time of
the peer benchmark, when a ``peers.json`` of ``benchmarks/peers.py`` is given), and ``report.html`` embedding them all
as base64. matplotlib is imported lazily (the ``bench`` extra). Files of an earlier report
are replaced only when asked (``overwrite``).
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp

from ..errors import Errors
from ..io import check_output_file, write_bytes_atomic
from ..metrics import latent_diagnostics
from ..tasks.topics import topic_words
from .chunks import CorpusOptions
from .pipelines import META_KEY, load_pipeline

PathLike = Union[str, Path]
DPI = 80
#: The files a report may write in its folder.
REPORT_FILES = ("report.html", "training.png", "topics.png", "doc_map.png", "l0_hist.png", "peers.png")


@dataclass
class Section:
    """One block of the page: a title, an optional image file, notes and an optional table
    (header row first)."""

    title: str
    image: Optional[Path] = None
    notes: List[str] = field(default_factory=list)
    table: List[List[str]] = field(default_factory=list)


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, or a clear install hint."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(Errors.E700)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Write a figure atomically as PNG and close it."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    fig.clf()
    _pyplot().close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def read_history(model_dir: PathLike) -> Optional[List[Dict[str, float]]]:
    """The per-epoch history list in ``history.json`` inside (or next to) the model, else the one
    ``sparsecode train`` keeps in the model's ``meta.json``; None when there is none."""
    model_dir = Path(model_dir)
    for path in (model_dir / "history.json", model_dir.parent / "history.json"):
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf8"))
            return data.get("history", data) if isinstance(data, dict) else data
    meta = model_dir / "meta.json"
    if meta.is_file():
        return json.loads(meta.read_text(encoding="utf8")).get(META_KEY, {}).get("history") or None
    return None


def plot_training(history: Sequence[Dict[str, float]], path: Path) -> Path:
    plt = _pyplot()
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key, title in zip(axes, ("loss", "l0", "dead"), ("loss", "L0 (active latents / doc)", "dead-latent share")):
        values = [h.get(key, np.nan) for h in history]
        ax.plot(epochs, values, marker="o", markersize=3)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    seconds = sum(h.get("seconds", 0.0) for h in history)
    fig.suptitle(f"training: {len(history)} epochs, {seconds:.1f}s", y=1.03)
    return _save(fig, path)


def plot_topics(words: List[List[str]], usage: np.ndarray, path: Path, max_latents: int = 40, n_words: int = 6) -> Path:
    """Grid of the most used latents, each cell listing its top words."""
    plt = _pyplot()
    order = np.argsort(-usage, kind="stable")[:max_latents]
    cols = 5
    rows = max(1, -(-len(order) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.6, rows * 1.45), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, latent in zip(axes.ravel(), order):
        ax.text(0.02, 0.95, f"#{latent}  ({int(usage[latent])} docs)", fontsize=9, fontweight="bold", va="top", transform=ax.transAxes)
        ax.text(0.02, 0.70, "\n".join(words[latent][:n_words]), fontsize=8, va="top", transform=ax.transAxes, linespacing=1.05)
        ax.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, transform=ax.transAxes, lw=0.5, color="0.7"))
    fig.suptitle(f"top words of the {len(order)} most used latents")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.35 / (rows * 1.45), wspace=0.05, hspace=0.1)
    return _save(fig, path)


def project_2d(codes: sp.csr_matrix, seed: int = 0) -> Tuple[np.ndarray, str]:
    """2-D coordinates of the codes: UMAP when installed (and enough docs), else PCA."""
    dense = np.asarray(codes.toarray(), dtype=np.float64)
    if importlib.util.find_spec("umap") is not None and dense.shape[0] > 20:
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(dense), "UMAP"
    from sklearn.decomposition import PCA

    n = min(2, dense.shape[0], dense.shape[1])
    xy = PCA(n_components=n, random_state=seed).fit_transform(dense)
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros(len(xy))])
    return xy, "PCA"


def plot_doc_map(xy: np.ndarray, labels: Optional[Sequence[Optional[str]]], method: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if labels is not None and any(label is not None for label in labels):
        names = sorted({str(label) for label in labels})
        cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
        for i, name in enumerate(names):
            mask = np.array([str(label) == name for label in labels])
            ax.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.7, color=cmap(i % cmap.N), label=name)
        ax.legend(fontsize=7, markerscale=2, loc="best", ncol=1 if len(names) <= 10 else 2)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.7)
    ax.set_title(f"documents by code ({method}, {len(xy)} docs)")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def plot_l0(l0: np.ndarray, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    top = int(l0.max()) if l0.size else 0
    ax.hist(l0, bins=np.arange(-0.5, top + 1.5, 1))
    ax.set_xlabel("active latents per document (L0)")
    ax.set_ylabel("documents")
    ax.set_title(f"L0: mean {l0.mean():.1f}" if l0.size else "L0")
    return _save(fig, path)


def plot_peers(peers: Dict[str, Any], path: Path, K: int = 50) -> Path:
    """Held-out NPMI against train time (log scale), one marker per system, one panel per corpus."""
    plt = _pyplot()
    summary = [s for s in peers.get("summary", []) if s.get("K") == K and "train_s" in s]
    corpora = sorted({s["corpus"] for s in summary}) or ["-"]
    fig, axes = plt.subplots(1, len(corpora), figsize=(5.5 * len(corpora), 3.8), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        rows = [s for s in summary if s["corpus"] == corpus]
        lifts = _label_lifts([s["train_s"] for s in rows], [s["npmi_heldout"] for s in rows])
        for s, lift in zip(rows, lifts):
            ours = s["system"].startswith("ours")
            ax.scatter(s["train_s"], s["npmi_heldout"], s=60 if ours else 35, marker="*" if ours else "o",
                       color="crimson" if ours else "steelblue")
            ax.annotate(s["system"], (s["train_s"], s["npmi_heldout"]), fontsize=7, xytext=(4, 3 - 9 * lift),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("train time (s, log)")
        ax.set_ylabel(f"held-out NPMI (K={K})")
        ax.set_title(corpus)
        ax.grid(alpha=0.3)
    return _save(fig, path)


def _label_lifts(times: List[float], values: List[float], width: float = 0.2, line: float = 0.045) -> List[int]:
    """Lines (9 points each) to move each point's label down so that labels do not overlap.

    On the plot's scales (log time, linear value), each normalised to its range, a label is
    ``width`` wide and ``line`` high; labels are placed from the highest point down, each at
    the first line where it clears the labels already placed.
    """
    x = np.log10(np.maximum(np.asarray(times, dtype=float), 1e-9))
    y = np.asarray(values, dtype=float)
    if x.size == 0:
        return []
    x = (x - x.min()) / max(float(np.ptp(x)), 1e-9)
    y = (y - y.min()) / max(float(np.ptp(y)), 1e-9)
    lifts = [0] * len(x)
    heights: Dict[int, float] = {}
    for i in map(int, np.argsort(-y, kind="stable")):
        others = [h for j, h in heights.items() if abs(x[i] - x[j]) < width]
        lifts[i] = next(n for n in range(len(x) + 1) if all(abs(y[i] - n * line - h) >= line for h in others))
        heights[i] = y[i] - lifts[i] * line
    return lifts


def _doc_sample(corpus: str, reading: CorpusOptions, max_docs: int) -> Tuple[List[str], List[Optional[str]]]:
    """Texts and labels for the document map: 'bbc' or any path ``read_corpus`` reads."""
    texts, labels = [], []
    for record in reading.read(corpus):
        if record.text.strip():
            texts.append(record.text)
            labels.append(record.label)
    if len(texts) > max_docs:
        keep = np.sort(np.random.default_rng(0).permutation(len(texts))[:max_docs])
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    return texts, labels


def _img_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _html_table(rows: List[List[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def latent_section(component: Any, docs: List[Any], codes: sp.csr_matrix, max_rows: int = 40) -> Section:
    """The per-latent diagnostics of ``evaluate`` on the sampled documents, as a table."""
    bags = component.featurize(docs)
    weights = component.torch_model.topic_word_weights().float().cpu().numpy()
    diagnostics = latent_diagnostics(weights, codes, bags, component.bow_vocab.df, top_n=min(10, bags.shape[1]))
    words = topic_words(component, min(10, bags.shape[1]))
    order = np.argsort(-diagnostics["docs_served"], kind="stable")[:max_rows]
    rows = [["latent", "documents", "NPMI", "median df of top words", "top words"]]
    rows += [[str(j), str(int(diagnostics["docs_served"][j])), f"{diagnostics['npmi'][j]:.3f}",
              f"{diagnostics['top_df_median'][j]:.0f}", " ".join(words[j])] for j in order]
    unsupported = 1.0 - float(diagnostics["supported"].mean())
    notes = [f"The {len(order)} latents that serve the most of the {codes.shape[0]:,} sampled documents. NPMI of each "
             "latent's top-10 words by co-occurrence in these documents (held out if the model was not trained on them); "
             f"{unsupported:.0%} of all latents have top words that no sampled document holds two of. The median "
             "training document frequency of a latent's top words shows latents led by rare words."]
    return Section("Latents: documents served, coherence, word rarity", notes=notes, table=rows)


def render_html(title: str, facts: List[Tuple[str, str]], sections: List[Section]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    body = []
    for section in sections:
        notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in section.notes)
        image = _img_tag(section.image) if section.image is not None else ""
        table = _html_table(section.table) if section.table else ""
        body.append(f"<section><h2>{html.escape(section.title)}</h2>{notes}{image}{table}</section>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1300px;margin:24px auto;color:#222}"
             "h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px}"
             "table{border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:2px 12px 2px 0}"
             "img{max-width:100%;height:auto}.note{color:#555;font-size:13px}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><table>{rows}</table>"
            + "".join(body) + "</body></html>\n")


def _clear_report_files(out_dir: Path, overwrite: bool) -> None:
    """Refuse (E501), or with ``overwrite`` remove, the files of an earlier report in ``out_dir``."""
    for name in REPORT_FILES:
        check_output_file(out_dir / name, overwrite)
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def build_report(model_dir: PathLike, out_dir: PathLike, corpus: str = "bbc", reading: CorpusOptions = CorpusOptions(),
                 max_docs: int = 1500, peers_json: Optional[PathLike] = None, overwrite: bool = False) -> Path:
    """Write the PNGs and ``report.html`` for the pipeline at ``model_dir``; returns the HTML path.

    model_dir (Path): a pipeline folder with a ``sparsecode`` component.
    out_dir (Path): where the files go (created).
    corpus (str): 'bbc' or a corpus path, for the document map and L0 histogram, read as ``reading`` says.
    max_docs (int): documents sampled from the corpus.
    peers_json (Path): the peer benchmark's results (``benchmarks/results/peers.json``), or None.
    overwrite (bool): replace the files of an earlier report in ``out_dir`` (else E501).
    """
    _pyplot()  # fail early with the install hint
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    peers_path = Path(peers_json) if peers_json is not None else None
    if peers_path is not None and not peers_path.is_file():
        raise FileNotFoundError(Errors.E703.format(path=peers_path))
    nlp, component = load_pipeline(model_dir)
    _clear_report_files(out_dir, overwrite)
    texts, labels = _doc_sample(corpus, reading, max_docs)
    docs = list(reading.tokenise(nlp, texts, component.name))
    codes = component.predict(docs).matrix.tocsr()
    keep = np.diff(codes.indptr) > 0
    if not keep.any():
        raise ValueError(Errors.E702.format(corpus=corpus))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch_model = component.torch_model
    K = torch_model.config.n_latents
    facts = [("model", str(model_dir)), ("family", torch_model.family), ("latents K", str(K)),
             ("k", str(getattr(torch_model.config, "k", "-"))), ("vocabulary", f"{len(component.bow_vocab):,} words")]
    sections: List[Section] = []

    history = read_history(model_dir)
    if history:
        sections.append(Section("Training curves", plot_training(history, out_dir / "training.png")))
    else:
        sections.append(Section("Training curves", notes=[f"No history.json next to {model_dir} and no `sparsecode train` "
                                                          "history in its meta.json: training curves are not available."]))

    usage = codes.getnnz(axis=0)
    words = topic_words(component, 8)
    sections.append(Section("Top words per latent", plot_topics(words, usage, out_dir / "topics.png"),
                            [f"Latents ordered by the number of the {codes.shape[0]:,} sampled documents that use them; "
                             f"{int((usage == 0).sum())} of {K} latents are unused in the sample."]))
    sections.append(latent_section(component, docs, codes))
    xy, method = project_2d(codes[keep])
    kept_labels = [label for label, k in zip(labels, keep) if k]
    notes = [f"{method} of the codes of {int(keep.sum()):,} documents from corpus {corpus!r}"
             + ("" if importlib.util.find_spec("umap") else " (UMAP is not installed: PCA used)") + "."]
    if all(label is None for label in kept_labels):
        notes.append("The corpus has no labels: points are not coloured.")
        kept_labels = None
    sections.append(Section("Documents by code", plot_doc_map(xy, kept_labels, method, out_dir / "doc_map.png"), notes))
    l0 = np.diff(codes.indptr).astype(np.float64)
    sections.append(Section("L0 per document", plot_l0(l0, out_dir / "l0_hist.png")))

    if peers_path is not None:
        peers = json.loads(peers_path.read_text(encoding="utf8"))
        notes = [f"From {peers_path.name} ({peers.get('meta', {}).get('date', '?')}, {peers.get('meta', {}).get('machine', '?')}). "
                 "Ours: red stars; peers: blue dots."]
        sections.append(Section("Peer benchmark: held-out NPMI vs train time (K=50)", plot_peers(peers, out_dir / "peers.png"), notes))
    else:
        sections.append(Section("Peer benchmark", notes=["Pass --peers benchmarks/results/peers.json (written by "
                                                         "python benchmarks/peers.py) to add this plot."]))

    page = render_html(f"spacy-sparsecode report: {model_dir.name}", facts, sections)
    target = out_dir / "report.html"
    write_bytes_atomic(target, page.encode("utf8"))
    return target
