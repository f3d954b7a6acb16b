"""Each lesson's slide deck: one self-contained HTML file, one slide per section.

A deck is built end to end (manim-slides renders the scenes, then converts
them), then read in headless Chromium: the deck loads with no console error
and no request off the page's own file, and reveal.js counts one slide per
non-empty section Manim cut (a scene without sections is one). ``make test``
builds lesson 02's deck (its scenes are the ones the narrated video test
rendered, so Manim's cache serves most of them); every lesson's generated
slide classes are checked; ``make test-full`` builds every lesson's deck.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser import chromium, console_errors, needs_browser, serve

from neuralcircuits.tooling.paths import ANIMATIONS, BUILD, lesson_scripts
from neuralcircuits.tooling.slides import (
    SLIDES,
    expected_slides,
    make_deck,
    write_wrapper,
)
from neuralcircuits.tooling.videos import scene_names

SCRIPTS = lesson_scripts(ANIMATIONS)
SCREENSHOTS = BUILD / "screenshots" / "slides"

pytestmark = pytest.mark.scene


DECK_IN_MAKE_TEST = "02_hand_built_relu_circuits"
LESSONS = [
    pytest.param(
        script,
        id=script.stem,
        marks=() if script.stem == DECK_IN_MAKE_TEST else pytest.mark.full,
    )
    for script in SCRIPTS
]


@pytest.fixture(scope="module", params=LESSONS)
def deck(request, narrated_video) -> tuple[Path, Path]:
    # after the narrated render: never two renders in one lesson's media folder
    return request.param, make_deck(request.param)


def test_every_lesson_has_a_self_contained_deck(deck):
    script, built = deck
    html = built.read_text()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html, "no CDN"
    assert 'src="http' not in html and 'href="http' not in html, (
        f"{script.stem} loads from the network"
    )
    assert html.count("data:video/mp4;base64,") >= len(scene_names(script))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_scene_becomes_a_slide_class(script, tmp_path):
    """What every deck shares with the one built: each scene subclassed as slides."""
    import runpy

    wrapper = write_wrapper(script, tmp_path)
    classes = runpy.run_path(str(wrapper))
    for name in scene_names(script):
        bases = [b.__name__ for b in classes[name].__mro__]
        assert bases[:2] == [name, "SectionSlide"] and "Slide" in bases, bases


@needs_browser
def test_decks_in_chromium(deck):
    script, _ = deck
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(SLIDES) as base, chromium(1280, 720) as driver:
        driver.get(f"{base}/{script.stem}.html")
        for _ in range(60):
            if driver.execute_script("return window.Reveal && Reveal.isReady()"):
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"{script.stem}: reveal.js never became ready")
        total = driver.execute_script("return Reveal.getTotalSlides()")
        assert total == expected_slides(script), f"{script.stem}: one slide per section"
        assert total >= len(scene_names(script)), "every scene is on a slide"
        driver.execute_script("Reveal.slide(1)")
        time.sleep(1)
        driver.save_screenshot(str(SCREENSHOTS / f"{script.stem}.png"))
        errors = [m for m in console_errors(driver) if "favicon" not in m]
        assert not errors, errors
