"""A lesson shows its video with captions when rendered, and says how to render it when not."""

from IPython.display import HTML, Markdown

from neuralcircuits.teaching import media


def _course(tmp_path):
    for folder in ("animations", "solutions", "build/videos", "build/course"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def test_unrendered_video_says_how_to_render(tmp_path, monkeypatch):
    monkeypatch.chdir(_course(tmp_path) / "build" / "course")
    shown = media.show_video("02_hand_built_relu_circuits")
    assert isinstance(shown, Markdown) and "make videos" in shown.data


def test_rendered_video_is_embedded_with_its_captions_relative_to_the_notebook(
    tmp_path, monkeypatch
):
    course = _course(tmp_path)
    (course / "build" / "videos" / "02_x.mp4").write_bytes(b"\0")
    (course / "build" / "videos" / "02_x.vtt").write_text("WEBVTT\n")
    monkeypatch.chdir(course / "build" / "course")
    shown = media.show_video("02_x")
    assert isinstance(shown, HTML)
    assert '<source src="../videos/02_x.mp4" type="video/mp4">' in shown.data
    assert '<track kind="captions" src="../videos/02_x.vtt" srclang="en"' in shown.data
    assert " default>" in shown.data


def test_a_lesson_opened_from_lessons_finds_the_video(tmp_path, monkeypatch):
    course = _course(tmp_path)
    (course / "lessons").mkdir()
    (course / "build" / "videos" / "01_x.mp4").write_bytes(b"\0")
    monkeypatch.chdir(course / "lessons")
    shown = media.show_video("01_x")
    assert '<source src="../build/videos/01_x.mp4"' in shown.data
    assert "<track" not in shown.data  # no captions rendered: no track
