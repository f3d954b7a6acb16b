"""Each lesson's slide deck: one self-contained HTML file, one slide per section.

The decks are built from the scenes test_scenes.py rendered (Manim's cache
makes that quick), then read in headless Chromium: the deck loads with no
console error and no request off the page's own file, and reveal.js counts
one slide per non-empty section Manim cut (a scene without sections is one).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser import chromium, console_errors, needs_browser, serve

from neuralcircuits.tooling.paths import ANIMATIONS, BUILD, lesson_scripts
from neuralcircuits.tooling.slides import SLIDES, expected_slides, make_deck
from neuralcircuits.tooling.videos import scene_names

SCRIPTS = lesson_scripts(ANIMATIONS)
SCREENSHOTS = BUILD / "screenshots" / "slides"

pytestmark = pytest.mark.scene


@pytest.fixture(scope="module")
def decks() -> dict[str, Path]:
    return {script.stem: make_deck(script) for script in SCRIPTS}


def test_every_lesson_has_a_self_contained_deck(decks):
    for stem, deck in decks.items():
        html = deck.read_text()
        assert "cdn.jsdelivr" not in html and "unpkg.com" not in html, "no CDN"
        assert 'src="http' not in html and 'href="http' not in html, (
            f"{stem} loads from the network"
        )
        assert html.count("data:video/mp4;base64,") >= len(
            scene_names(ANIMATIONS / f"{stem}.py")
        )


@needs_browser
def test_decks_in_chromium(decks):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(SLIDES) as base, chromium(1280, 720) as driver:
        for script in SCRIPTS:
            driver.get(f"{base}/{script.stem}.html")
            for _ in range(60):
                if driver.execute_script("return window.Reveal && Reveal.isReady()"):
                    break
                time.sleep(0.25)
            else:
                pytest.fail(f"{script.stem}: reveal.js never became ready")
            total = driver.execute_script("return Reveal.getTotalSlides()")
            assert total == expected_slides(script), (
                f"{script.stem}: one slide per section"
            )
            assert total >= len(scene_names(script)), "every scene is on a slide"
            driver.execute_script("Reveal.slide(1)")
            time.sleep(1)
            driver.save_screenshot(str(SCREENSHOTS / f"{script.stem}.png"))
            errors = [m for m in console_errors(driver) if "favicon" not in m]
            assert not errors, errors
