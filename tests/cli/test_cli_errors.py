"""Every command, given bad input, prints one line naming the error and the fix, and exits 1.

A missing corpus for every corpus-reading command, a missing or non-pipeline model folder,
an existing output without --overwrite, and each command's own bad input (corrupt packed
bytes, a bad summary budget, sampling from a model that cannot sample).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import SAMPLE, fails_with, run

#: Each command with its arguments: {model}, {corpus}, {out} are filled in by the tests.
COMMANDS = {
    "train": ["train", "{corpus}", "{out}", "--epochs", "1"],
    "encode": ["encode", "{model}", "{corpus}", "{out}.npz"],
    "evaluate": ["evaluate", "{model}", "{corpus}", "-o", "{out}.json"],
    "compress": ["compress", "{model}", "{corpus}", "{out}.bin"],
    "summarize": ["summarize", "{model}", "{corpus}", "{out}.jsonl"],
    "generate": ["generate", "{model}", "{corpus}", "{out}.jsonl", "--doc", "0"],
    "report": ["report", "{model}", "{corpus}", "{out}"],
    "demo": ["demo", "{corpus}", "{out}", "--epochs", "1"],
}
MODEL_COMMANDS = [name for name, args in COMMANDS.items() if "{model}" in args]


def args_of(command: str, model: Path, corpus: Path, out: Path) -> list:
    return [a.format(model=model, corpus=corpus, out=out) for a in COMMANDS[command]]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_corpus(command: str, cli_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    line = fails_with("[E202]", *args_of(command, cli_model, missing, tmp_path / "out"))
    assert str(missing) in line
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("command", [*MODEL_COMMANDS, "topics", "decompress"])
@pytest.mark.parametrize("folder", ["missing", "not a pipeline"])
def test_a_model_folder_that_is_not_a_pipeline(command: str, folder: str, tmp_path: Path) -> None:
    model = tmp_path / "model"
    if folder == "not a pipeline":
        model.mkdir()
        (model / "notes.txt").write_text("not a model")
    packed = tmp_path / "codes.bin"
    packed.write_bytes(b"x")
    args = {"topics": ["topics", model], "decompress": ["decompress", model, packed, tmp_path / "out.jsonl"]}
    line = fails_with("[E507]", *args.get(command) or args_of(command, model, SAMPLE, tmp_path / "out"))
    assert str(model) in line and "sparsecode train" in line


@pytest.mark.parametrize("command", [name for name in COMMANDS if name not in ("train", "demo")])
def test_an_existing_output_without_overwrite(command: str, cli_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = {"report": out / "report.html", "encode": out.with_suffix(".npz"), "evaluate": out.with_suffix(".json"),
               "compress": out.with_suffix(".bin")}.get(command, out.with_suffix(".jsonl"))
    written.parent.mkdir(exist_ok=True)
    written.write_text("precious")
    line = fails_with("[E501]", *args_of(command, cli_model, SAMPLE, out))
    assert str(written) in line and "--overwrite" in line
    assert written.read_text() == "precious"


@pytest.mark.parametrize("command", ["train", "demo"])
def test_a_folder_not_written_by_sparsecode(command: str, cli_model: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("precious")
    line = fails_with("[E500]", *args_of(command, cli_model, SAMPLE, theirs))
    assert str(theirs) in line and "--overwrite" in line
    assert (theirs / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("command", ["report", "demo"])
def test_a_bad_record_in_the_positional_corpus(command: str, cli_model: Path, tmp_path: Path) -> None:
    """``report MODEL CORPUS OUTPUT_DIR`` and ``demo [CORPUS] [OUTPUT_DIR]`` read CORPUS with the corpus options."""
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": oops}\n', encoding="utf8")
    line = fails_with("[E204]", *args_of(command, cli_model, broken, tmp_path / "out"))
    assert f"{broken}, line 2" in line and "--on-error skip" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,said", [
    (["report", "{model}", "{corpus}"], "Missing argument 'output_dir'"),  # the corpus is required
    (["report", "{model}", "{out}", "--corpus", "{corpus}"], "No such option: --corpus"),  # the old grammar
    (["demo", "--corpus", "{corpus}"], "No such option: --corpus"),
    (["demo", "{corpus}", "-o", "{out}"], "No such option: -o"),
    (["demo", "{corpus}", "{out}", "extra"], "unexpected extra argument"),
])
def test_report_and_demo_take_corpus_then_output_positionally(args: list, said: str, cli_model: Path,
                                                             tmp_path: Path) -> None:
    result = run(*[a.format(model=cli_model, corpus=SAMPLE, out=tmp_path / "out") for a in args], code=2)
    assert said in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


#: Each command's positional arguments: MODEL (where it needs one), then CORPUS, then the output.
GRAMMAR = {
    "train": ["corpus", "output_dir"], "encode": ["model", "corpus", "output"], "evaluate": ["model", "corpus"],
    "topics": ["model"], "compress": ["model", "corpus", "output"], "decompress": ["model", "packed", "output"],
    "summarize": ["model", "corpus", "output"], "generate": ["model", "corpus", "output"],
    "report": ["model", "corpus", "output_dir"], "demo": ["corpus", "output_dir"],
}
#: Options of one name and two meanings: summarize's summary length (or --ratio), generate's sentences per code.
TWO_MEANINGS = {"--sentences"}


def test_one_grammar_and_one_definition_of_each_option() -> None:
    from typer.main import get_command

    from spacy_sparsecode.cli.app import app

    commands = get_command(app).commands
    assert {name: [p.name for p in c.params if p.param_type_name == "argument"] for name, c in commands.items()} == GRAMMAR
    helps: dict = {}
    for command in commands.values():
        for option in (p for p in command.params if p.param_type_name == "option" and not p.hidden):
            for name in option.opts:
                helps.setdefault(name, set()).add(option.help)
    assert {name for name, texts in helps.items() if len(texts) > 1} == TWO_MEANINGS
    assert "--model" not in helps and "--corpus" not in helps  # MODEL and CORPUS are positional everywhere


@pytest.mark.parametrize("bytes_,error", [("garbage", "[E400]"), ("truncated", "[E401]"), ("of another model", "[E402]")])
def test_decompress_refuses_bytes_it_cannot_trust(bytes_: str, error: str, cli_model: Path, saved_pipeline: Path,
                                                  tmp_path: Path) -> None:
    packed = tmp_path / "codes.bin"
    if bytes_ == "garbage":
        packed.write_bytes(b"not codes")
    else:
        run("compress", saved_pipeline if bytes_ == "of another model" else cli_model, SAMPLE, packed, "--limit", "5")
    if bytes_ == "truncated":
        packed.write_bytes(packed.read_bytes()[:-7])
    fails_with(error, "decompress", cli_model, packed, tmp_path / "codes.jsonl")
    assert not (tmp_path / "codes.jsonl").exists()


@pytest.mark.parametrize("budget,error", [(["--sentences", "0"], "[E404]"), (["--ratio", "1.5"], "[E406]"),
                                          (["--sentences", "2", "--ratio", "0.5"], "[E407]")])
def test_summarize_refuses_a_bad_budget(budget: list, error: str, cli_model: Path, tmp_path: Path) -> None:
    fails_with(error, "summarize", cli_model, SAMPLE, tmp_path / "s.jsonl", *budget)


@pytest.mark.parametrize("mode", [[], ["--near", "0"]])
def test_generate_sampling_from_a_model_that_cannot_sample(mode: list, cli_model: Path, tmp_path: Path) -> None:
    line = fails_with("[E409]", "generate", cli_model, SAMPLE, tmp_path / "g.jsonl", *mode)
    assert "gaussian" in line and "'topk'" in line


def test_a_bad_model_option_and_a_bad_record(cli_model: Path, tmp_path: Path) -> None:
    fails_with("[E505]", "train", SAMPLE, tmp_path / "m", "--family", "nosuch")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": oops}\n', encoding="utf8")
    line = fails_with("[E204]", "compress", cli_model, broken, tmp_path / "c.bin")
    assert f"{broken}, line 2" in line and "--on-error skip" in line


@pytest.mark.parametrize("command", COMMANDS)
def test_every_corpus_command_takes_the_corpus_options(command: str) -> None:
    shown = run(command, "--help").output
    for option in ("--text-field", "--limit", "--on-error", "--max-chars", "--n-process", "--chunk-size"):
        assert option in shown, option
    assert ("--batch-size" in shown) == (command == "train")  # only train's minibatch has that name


@pytest.mark.parametrize("command,said", [("topics", "Interrupted."), ("encode", "rerun the same command with --resume")])
def test_ctrl_c_exits_130(command: str, said: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import spacy_sparsecode.cli.app as app_module
    import spacy_sparsecode.cli.tasks as tasks_module

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tasks_module, "load_pipeline", interrupt)
    monkeypatch.setattr(app_module, "encode_corpus", interrupt)
    args = {"topics": ["topics", tmp_path], "encode": ["encode", tmp_path, SAMPLE, tmp_path / "c.npz"]}[command]
    assert said in run(*args, code=130).stderr
