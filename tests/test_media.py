"""A lesson shows its video when rendered, and says how to render it when not."""

from IPython.display import Markdown, Video

from neuralcircuits import media


def test_unrendered_video_says_how_to_render(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "VIDEOS", tmp_path)
    shown = media.show_video("02_hand_built_relu_circuits")
    assert isinstance(shown, Markdown) and "make videos" in shown.data


def test_rendered_video_is_embedded_by_relative_path(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "VIDEOS", tmp_path / "videos")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "02_x.mp4").write_bytes(b"\0")
    monkeypatch.chdir(tmp_path)
    shown = media.show_video("02_x")
    assert isinstance(shown, Video) and 'src="videos/02_x.mp4"' in shown._repr_html_()
