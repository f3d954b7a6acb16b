"""The course website, built and then read in headless Chromium.

The solutions are executed once here, as ``make course`` executes them (this
is also the test that every solution runs: ``make test`` passes only lessons/
notebooks to nbval), and the site is built from those executed notebooks, so
CI runs each solution once. The site embeds the one narrated video the test
session renders (lesson 02's, the `narrated_video` fixture shared with
test_scenes.py): every page is read, and that video must play with its
captions; `make course` and `make site` embed every lesson's.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import nbformat
import pytest
from browser import chromium, console_errors, needs_browser, serve

from neuralcircuits.tooling import site
from neuralcircuits.tooling.notebooks import execute, to_notebook
from neuralcircuits.tooling.paths import BUILD, SOLUTIONS, lesson_scripts

SCRIPTS = lesson_scripts(SOLUTIONS)
STEMS = [s.stem for s in SCRIPTS]
TEST_COURSE = BUILD / "test-course"
TEST_SITE = BUILD / "test-site"
SCREENSHOTS = BUILD / "screenshots" / "site"

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="session")
def executed_course() -> dict[str, str]:
    """Execute every solution into build/test-course/ (as make course does); return errors."""
    errors = {}
    for script in SCRIPTS:
        unexecuted = to_notebook(script, TEST_COURSE / ".unexecuted")
        try:
            execute(unexecuted, TEST_COURSE / f"{script.stem}.ipynb")
        except Exception as error:  # reported by test_solution_runs
            errors[script.stem] = str(error)[-2000:]
    return errors


@pytest.mark.parametrize("stem", STEMS)
def test_solution_runs(executed_course, stem):
    assert stem not in executed_course, executed_course.get(stem)
    notebook = nbformat.read(TEST_COURSE / f"{stem}.ipynb", as_version=4)
    assert all(
        cell.get("outputs") is not None
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


@pytest.fixture(scope="session")
def built_site(executed_course, narrated_video) -> tuple[Path, float]:
    start = time.perf_counter()
    index = site.build(
        TEST_COURSE, TEST_SITE, BUILD / "test-site-src", videos=narrated_video.parent
    )
    return index.parent, time.perf_counter() - start


def test_site_has_every_page(built_site):
    root, seconds = built_site
    print(f"site built in {seconds:.0f} s")
    pages = {p.stem for p in root.glob("*.html")}
    for stem in STEMS:
        assert {stem, f"{stem}_exercises"} <= pages
    assert {"index", "search"} <= pages
    index = (root / "index.html").read_text()
    for stem in STEMS:
        assert f'href="{stem}.html"' in index, (
            "the README's lesson links lead to the lessons"
        )


def test_lesson_pages_fold_solutions_and_keep_outputs(built_site):
    root, _ = built_site
    for stem in STEMS:
        page = (root / f"{stem}.html").read_text()
        assert "<details" in page, "hints are folded"
        assert "tag_hide-input" in page, "exercise solutions are folded"
        assert "✔" in page, "the executed checks' outputs are on the page"
        assert "<img" in page, "the executed figures are on the page"
        exercises = (root / f"{stem}_exercises.html").read_text()
        assert "Difficulty" in exercises and "NotImplementedError" in exercises


def _page_urls(root: Path, base: str) -> list[str]:
    return [
        f"{base}/{p.name}" for p in sorted(root.glob("*.html")) if p.stem != "genindex"
    ]


def _resolves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except urllib.error.URLError:
        return False


@needs_browser
def test_every_page_in_chromium(built_site, narrated_video):
    """Every page loads with no console error; links, images, videos and captions resolve."""
    root, _ = built_site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, checked_links, videos = [], set(), set()
    with serve(root) as base, chromium() as driver:
        for url in _page_urls(root, base):
            driver.get(url)
            driver.execute_script("return document.fonts.ready")
            time.sleep(0.5)  # MathJax typesets after load
            page = urlparse(url).path
            problems += [f"{page}: console: {m}" for m in console_errors(driver)]
            links = driver.execute_script(
                "return [...document.querySelectorAll('a[href]')].map(a => a.href)"
            )
            for link in links:
                target, _ = urldefrag(link)
                if not target.startswith(base):
                    continue
                if target not in checked_links:
                    checked_links.add(target)
                    if not _resolves(target):
                        problems.append(f"{page}: broken link {link}")
            broken_images = driver.execute_script(
                "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.src)"
            )
            problems += [f"{page}: broken image {src}" for src in broken_images]
            for video in driver.find_elements("css selector", "video"):
                videos.add(Path(urlparse(url).path).stem)
                state = driver.execute_async_script(
                    """
                    const [video, done] = arguments;
                    const source = video.querySelector('source');
                    const track = video.querySelector('track[kind=captions]');
                    const report = () => done({
                        type: source && source.type, can: source && video.canPlayType(source.type),
                        ready: video.readyState, error: video.error && video.error.code,
                        duration: video.duration, track: track && track.src,
                        cues: video.textTracks.length ? (video.textTracks[0].cues || []).length : 0});
                    if (video.textTracks.length) video.textTracks[0].mode = 'showing';
                    if (video.readyState >= 1) setTimeout(report, 500);
                    else { video.addEventListener('loadedmetadata', () => setTimeout(report, 500));
                           video.addEventListener('error', report, true); video.load(); }
                """,
                    video,
                )
                if not (state["can"] and state["ready"] >= 1 and state["duration"] > 1):
                    problems.append(f"{page}: video not playable: {state}")
                if not (
                    state["track"] and state["cues"] > 0 and _resolves(state["track"])
                ):
                    problems.append(f"{page}: video without captions: {state}")
            stem = Path(page).stem
            if stem in STEMS:
                driver.execute_script("window.scrollTo(0, 0)")
                driver.save_screenshot(str(SCREENSHOTS / f"{stem}.png"))
                video = driver.find_elements("css selector", "video")
                if video:
                    driver.execute_script(
                        "arguments[0].scrollIntoView({block: 'center'});"
                        "arguments[0].currentTime = 4;",
                        video[0],
                    )
                    time.sleep(1.5)
                    driver.save_screenshot(str(SCREENSHOTS / f"{stem}-video.png"))
                exercise = driver.find_elements("css selector", ".tag_hide-input")
                if exercise:
                    driver.execute_script(
                        "arguments[0].scrollIntoView({block: 'start'});"
                        "window.scrollBy(0, -260)",
                        exercise[0],
                    )
                    time.sleep(0.5)
                    driver.save_screenshot(str(SCREENSHOTS / f"{stem}-exercise.png"))
        driver.get(f"{base}/search.html?q=neuron")
        found = 0
        for _ in range(40):
            found = len(driver.find_elements("css selector", "#search-results li"))
            if found:
                break
            time.sleep(0.25)
        assert found > 0, "search finds the lessons that talk about neurons"
    assert narrated_video.stem in videos, "the rendered video is on its lesson page"
    assert not problems, "\n".join(problems)
    for stem in STEMS:
        assert (SCREENSHOTS / f"{stem}.png").stat().st_size > 10_000


def test_captions_of_a_lesson_video(tmp_path):
    (tmp_path / "01_x.srt").write_text(
        "1\n00:00:00,000 --> 00:00:02,500\nHello.\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nA neuron.\n"
    )
    vtt = site.captions("01_x", videos=tmp_path, media=tmp_path)
    assert vtt.startswith("WEBVTT")
    assert "00:00:00.000 --> 00:00:02.500\nHello." in vtt
    assert "00:00:02.500 --> 00:00:04.000\nA neuron." in vtt
