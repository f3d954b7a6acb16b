"""Who speaks the videos' narration: a local voice by default, switchable.

Every scene is a ``NarratedScene`` (manim-voiceover's ``VoiceoverScene``) and
times its animations to its script with ``with self.voiceover(text=...)``.
The environment variable ``NC_VOICE`` (``make videos VOICE=...``) picks the
voice; nothing is downloaded at render time:

- ``espeak`` (default): espeak-ng, the Debian package, offline. A draft voice.
- ``silent``: no voice; captions and pacing as if read aloud at ``NC_WPM``
  words a minute (default 150). For a silent-with-captions cut.
- ``recorder``: manim-voiceover's recorder: you read each line into a
  microphone while Manim renders (needs ``pip install "manim-voiceover[recorder]"``).
- ``pyttsx3``, ``gtts``, ``azure``, ``openai``, ``elevenlabs``: the plugin's
  other engines, where installed (some need the network or a key).
- ``package.module:ClassName``: any other ``SpeechService`` subclass.

``NC_ESPEAK_VOICE`` (default ``en-us``) and ``NC_WPM`` tune espeak-ng.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import wave
from pathlib import Path

from manim_voiceover import VoiceoverScene
from manim_voiceover.helper import remove_bookmarks
from manim_voiceover.services.base import SpeechService, initialize_speech_service

DEFAULT_WPM = 150  # espeak-ng speaks faster than its nominal rate
PLUGIN_SERVICES = {
    "recorder": "manim_voiceover.services.recorder:RecorderService",
    "pyttsx3": "manim_voiceover.services.pyttsx3:PyTTSX3Service",
    "gtts": "manim_voiceover.services.gtts:GTTSService",
    "azure": "manim_voiceover.services.azure:AzureService",
    "openai": "manim_voiceover.services.openai:OpenAIService",
    "elevenlabs": "manim_voiceover.services.elevenlabs:ElevenLabsService",
}


def words_per_minute() -> int:
    return int(os.environ.get("NC_WPM", DEFAULT_WPM))


class _LocalService(SpeechService):
    """A speech service that writes a WAV file per line, cached by text and settings."""

    name = "local"

    def __init__(self, **kwargs):
        initialize_speech_service(self, kwargs)

    def settings(self) -> dict:
        return {}

    def write_wav(self, text: str, path: Path) -> None:
        raise NotImplementedError

    def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
        cache_dir = Path(cache_dir or self.cache_dir)
        input_data = {"input_text": text, "service": self.name, **self.settings()}
        cached = self.get_cached_result(input_data, cache_dir)
        if cached is not None and (cache_dir / cached["original_audio"]).exists():
            return cached
        audio = path or self.get_audio_basename(input_data) + ".wav"
        self.write_wav(remove_bookmarks(text), cache_dir / audio)
        return {
            "input_text": text,
            "input_data": input_data,
            "original_audio": str(audio),
        }


class EspeakService(_LocalService):
    """espeak-ng (Debian package ``espeak-ng``): an offline draft voice."""

    name = "espeak-ng"

    def __init__(self, **kwargs):
        if shutil.which("espeak-ng") is None:
            raise RuntimeError(
                "espeak-ng is not installed: `sudo apt-get install espeak-ng` (make setup "
                "does it), or render without a voice: make videos VOICE=silent"
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
    """No voice: silence as long as the line takes to read aloud, so captions keep pace."""

    name = "silent"
    rate = 22050

    def settings(self) -> dict:
        return {"wpm": words_per_minute()}

    def write_wav(self, text: str, path: Path) -> None:
        seconds = max(1.0, len(text.split()) / words_per_minute() * 60 + 0.4)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(b"\0\0" * int(seconds * self.rate))


def speech_service(name: str | None = None) -> SpeechService:
    """The speech service NC_VOICE names (see the module docstring)."""
    name = name or os.environ.get("NC_VOICE", "espeak")
    if name == "espeak":
        return EspeakService()
    if name == "silent":
        return SilentService()
    target = PLUGIN_SERVICES.get(name, name)
    if ":" not in target:
        raise ValueError(
            f"NC_VOICE={name!r}: use espeak, silent, {', '.join(PLUGIN_SERVICES)} "
            "or package.module:ClassName"
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
