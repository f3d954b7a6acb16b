"""The videos' voices (Piper by default, espeak-ng, silent or another engine by
NC_VOICE) and how they say the course's words, tested on the scripts' own lines."""

import ast
import itertools
import re
import sys
import wave
from pathlib import Path

import pytest

from neuralcircuits.tooling.paths import ANIMATIONS, lesson_scripts

sys.path.insert(0, str(ANIMATIONS))
narration = pytest.importorskip("narration")


def _seconds(path):
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Services make their cache folder under Manim's media folder: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


def test_the_default_voice_is_piper_and_speaks_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("NC_VOICE", raising=False)
    monkeypatch.delenv("NC_PIPER_MODEL", raising=False)
    service = narration.speech_service()
    assert isinstance(service, narration.PiperService)
    assert service.model.name == "en_US-joe-medium.onnx"
    service.cache_dir = tmp_path
    data = service.generate_from_text("A neuron is a dot product. Head 1.0 reads it.")
    assert 2.0 < _seconds(tmp_path / data["original_audio"]) < 8.0
    assert data["input_data"]["spoken_text"].endswith("Head one point zero reads it.")
    again = service.generate_from_text("A neuron is a dot product. Head 1.0 reads it.")
    assert again["original_audio"] == data["original_audio"]  # cached, not re-spoken


def test_espeak_is_still_there_to_choose(tmp_path, monkeypatch):
    if not narration.shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    monkeypatch.setenv("NC_VOICE", "espeak")
    service = narration.speech_service()
    assert isinstance(service, narration.EspeakService)
    service.cache_dir = tmp_path
    data = service.generate_from_text("A neuron is a dot product.")
    assert 1.0 < _seconds(tmp_path / data["original_audio"]) < 5.0


def test_silent_voice_keeps_reading_pace(tmp_path, monkeypatch):
    monkeypatch.setenv("NC_VOICE", "silent")
    monkeypatch.setenv("NC_WPM", "120")
    service = narration.speech_service()
    service.cache_dir = tmp_path
    data = service.generate_from_text(" ".join(["word"] * 60))
    assert _seconds(tmp_path / data["original_audio"]) == pytest.approx(30.4, abs=0.1)


def test_silent_voice_counts_the_words_spoken(tmp_path, monkeypatch):
    """ "0.25" takes four words to say: the silent pacing counts them."""
    monkeypatch.setenv("NC_VOICE", "silent")
    monkeypatch.setenv("NC_WPM", "60")
    service = narration.speech_service()
    service.cache_dir = tmp_path
    data = service.generate_from_text("0.25")  # zero point two five
    assert _seconds(tmp_path / data["original_audio"]) == pytest.approx(4.4, abs=0.1)


def test_an_unknown_voice_is_named_with_the_choices(monkeypatch):
    monkeypatch.setenv("NC_VOICE", "shout")
    with pytest.raises(ValueError, match="piper, espeak, silent, recorder"):
        narration.speech_service()


def test_any_speech_service_class_can_be_named(monkeypatch):
    monkeypatch.setenv("NC_VOICE", "narration:SilentService")
    assert isinstance(narration.speech_service(), narration.SilentService)


# The scripts' lines, read from every animations/NN_*.py with ast. The parts an
# f-string computes get sample values shaped by their format: a share (":.0%")
# is 85%, ":.0e" is 1e-07, ":.2f" is 12.35, an unformatted value is "1.0" (a
# head's name, or a decimal).
_SAMPLES = {"%": 0.8537, "e": 1.234e-07, "f": 12.3456, "g": 2.5}


def _field(node: ast.FormattedValue) -> list[str]:
    if node.format_spec is None:
        inner = _strings(node.value)
        return inner if inner != ["?"] else ["1.0"]
    spec = "".join(
        v.value for v in node.format_spec.values if isinstance(v, ast.Constant)
    )
    return [format(_SAMPLES.get(spec[-1:], 2.5), spec)]


_ASSIGNED: dict[str, ast.expr] = {}  # a scene file's `name = ...`, for `text=name`


def _strings(node) -> list[str]:
    """Every text an expression can make (both sides of an `if`), with sample values."""
    if isinstance(node, ast.Name) and node.id in _ASSIGNED:
        return _strings(_ASSIGNED[node.id])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        parts = [
            [v.value] if isinstance(v, ast.Constant) else _field(v) for v in node.values
        ]
        return ["".join(p) for p in itertools.product(*parts)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _strings(node.left) for b in _strings(node.right)]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    inner = [n for n in ast.walk(node) if isinstance(n, ast.JoinedStr)]
    if inner:  # e.g. _list([f"{v:.0%}" for v in values])
        return [" and ".join(s for n in inner for s in _strings(n))]
    return ["?"]


def narration_lines(script: Path) -> list[str]:
    """The `self.voiceover(text=...)` lines of a scene file, with sample values."""
    lines = []
    tree = ast.parse(script.read_text())
    _ASSIGNED.clear()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            _ASSIGNED[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "voiceover":
            for keyword in node.keywords:
                if keyword.arg == "text":
                    lines += _strings(keyword.value)
    return lines


SCRIPTS = lesson_scripts(ANIMATIONS)
LINES = [line for script in SCRIPTS for line in narration_lines(script)]
# What must never reach the engine as written: digits (decimals, percentages,
# head names, counts), %, subscripts (W_OV) and the abbreviations it misreads.
RAW = re.compile(r"\d|%|_|\bReLU|\bMLP|\blogit|GPT|toy-seq|\bW_|\b[QO][KV]\b")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_line_of_the_scripts_is_said_in_words(script: Path):
    lines = narration_lines(script)
    assert len(lines) >= 10, f"{script.name}: too few narration lines found"
    assert "?" not in lines, f"{script.name}: a line the test cannot read"
    raw = [(line, narration.say(line)) for line in lines]
    bad = [f"{line!r}\n  -> {said!r}" for line, said in raw if RAW.search(said)]
    assert not bad, "\n".join(bad)


def _said(fragment: str) -> str:
    """What the engine is handed for the first line of the scripts holding `fragment`."""
    found = [line for line in LINES if fragment in line]
    if not found:
        pytest.skip(f"no line of the scripts says {fragment!r} any more")
    return narration.say(found[0])


def test_spot_checks_on_the_scripts_lines():
    assert "multiply by two point two." in _said("multiply by 2.2")
    assert "The non-linearity most networks use is ray-loo" in _said(
        "most networks use"
    )
    assert "inside an M L P," in _said("the linear algebra inside an MLP")
    assert "in G P T two small" in _said("found the circuits that do this in GPT-2")
    assert "lowjit difference" in _said("with a logit difference")
    assert "Head one point zero puts eighty-five percent of its attention" in _said(
        "of its attention, averaged"
    )
    assert "rounding errors of about ten to the minus seven." in _said(
        "rounding errors"
    )
    assert "at least eighty percent of the lowjit difference" in _said("at least 80")
    assert "on toy seek or on G P T two small." in _said("on toy-seq or on GPT-2")


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("head 1.0", "head one point zero"),
        (
            "heads 9.1, 9.10 and 10.7",
            "heads nine point one, nine point ten and ten point seven",
        ),
        ("W_OV and W_QK", "W O V and W Q K"),
        ("W_U W_E", "W U W E"),
        ("W_{in}", "W in"),
        ("x_i and x_1", "x i and x one"),
        ("x_{t-1} and d_model", "x t minus one and d model"),
        ("85%", "eighty-five percent"),
        ("12.5% of 1,000", "twelve point five percent of one thousand"),
        ("-0.25", "minus zero point two five"),
        (
            "3.2e-05 and 2.3e+00",
            "three point two times ten to the minus five and two point three",
        ),
        ("792 analogies", "seven hundred ninety-two analogies"),
        ("a two-unit ReLU MLP's logits", "a two-unit ray-loo M L P's lowjits"),
        ("the QK and OV circuits of GPT-2", "the Q K and O V circuits of G P T two"),
    ],
)
def test_the_pronunciation_rules(written, spoken):
    assert narration.say(written) == spoken


def test_captions_keep_the_written_text(tmp_path, monkeypatch):
    """The engine hears the spoken form; the subcaption is the script's line."""
    monkeypatch.setenv("NC_VOICE", "silent")
    service = narration.speech_service()
    service.cache_dir = tmp_path
    data = service.generate_from_text("Head 1.0 keeps 85%.")
    assert data["input_text"] == "Head 1.0 keeps 85%."
    assert (
        data["input_data"]["spoken_text"]
        == "Head one point zero keeps eighty-five percent."
    )
