"""A lesson shows its video when rendered, and says how to render it when not."""

from IPython.display import Markdown, Video

from neuralcircuits.teaching import media


def _course(tmp_path):
    for folder in ("animations", "solutions", "build/videos", "build/course"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def test_unrendered_video_says_how_to_render(tmp_path, monkeypatch):
    monkeypatch.chdir(_course(tmp_path) / "build" / "course")
    shown = media.show_video("02_hand_built_relu_circuits")
    assert isinstance(shown, Markdown) and "make videos" in shown.data


def test_rendered_video_is_embedded_relative_to_the_notebook(tmp_path, monkeypatch):
    course = _course(tmp_path)
    (course / "build" / "videos" / "02_x.mp4").write_bytes(b"\0")
    monkeypatch.chdir(course / "build" / "course")
    shown = media.show_video("02_x")
    assert isinstance(shown, Video) and 'src="../videos/02_x.mp4"' in shown._repr_html_()
