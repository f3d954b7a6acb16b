"""The videos' voices: espeak-ng by default, silent or another engine by NC_VOICE."""

import sys
import wave

import pytest

from neuralcircuits.tooling.paths import ANIMATIONS

sys.path.insert(0, str(ANIMATIONS))
narration = pytest.importorskip("narration")


def _seconds(path):
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Services make their cache folder under Manim's media folder: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


def test_the_default_voice_is_espeak_and_speaks_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("NC_VOICE", raising=False)
    service = narration.speech_service()
    assert isinstance(service, narration.EspeakService)
    service.cache_dir = tmp_path
    data = service.generate_from_text("A neuron is a dot product.")
    assert 1.0 < _seconds(tmp_path / data["original_audio"]) < 5.0
    again = service.generate_from_text("A neuron is a dot product.")
    assert again["original_audio"] == data["original_audio"]  # cached, not re-spoken


def test_silent_voice_keeps_reading_pace(tmp_path, monkeypatch):
    monkeypatch.setenv("NC_VOICE", "silent")
    monkeypatch.setenv("NC_WPM", "120")
    service = narration.speech_service()
    service.cache_dir = tmp_path
    data = service.generate_from_text(" ".join(["word"] * 60))
    assert _seconds(tmp_path / data["original_audio"]) == pytest.approx(30.4, abs=0.1)


def test_an_unknown_voice_is_named_with_the_choices(monkeypatch):
    monkeypatch.setenv("NC_VOICE", "shout")
    with pytest.raises(ValueError, match="espeak, silent, recorder"):
        narration.speech_service()


def test_any_speech_service_class_can_be_named(monkeypatch):
    monkeypatch.setenv("NC_VOICE", "narration:SilentService")
    assert isinstance(narration.speech_service(), narration.SilentService)
