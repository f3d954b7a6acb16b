"""The look every lesson's video shares: colours, type sizes, common pieces.

Scenes import from here (``from style import *``) so a maintainer changes the
course's look in one place. Numbers never come from here: scenes compute them
with the `neuralcircuits` library, the same code the notebooks run.
"""

from manim import (
    BLUE_C,
    DOWN,
    GREEN_C,
    GREY_B,
    ORANGE,
    RED_C,
    UP,
    WHITE,
    YELLOW_C,
    Axes,
    FadeIn,
    FadeOut,
    Tex,
    VGroup,
    config,
)
from narration import NarratedScene  # noqa: F401  (every scene is one)

from neuralcircuits.science.members import NUMBER_WORDS

# One colour per idea, the same in every video.
POSITIVE = BLUE_C  # positiveness detectors, x > 0
NEGATIVE = RED_C  # negativeness detectors, x < 0
OUTPUT = YELLOW_C  # what a network computes
TARGET = GREY_B  # what it should compute
HIGHLIGHT = ORANGE
GOOD = GREEN_C
TEXT = WHITE

TITLE_SIZE = 44
BODY_SIZE = 32
LABEL_SIZE = 26

# Text stays this far inside the frame's edges (tests/test_scenes.py checks it).
MARGIN = 0.25
SAFE_WIDTH = config.frame_width - 2 * MARGIN - 0.3


def fit_width(mobject, width: float = SAFE_WIDTH):
    """Shrink `mobject` to `width` if it is wider (never enlarge it)."""
    if mobject.width > width:
        mobject.scale_to_fit_width(width)
    return mobject


def title_card(scene, title: str, subtitle: str = "") -> VGroup:
    """Show a title (and an optional subtitle) at the top of the frame.

    Faded in whole, never written stroke by stroke: a frame grabbed at any
    moment shows the title complete or not at all.
    """
    heading = fit_width(Tex(title, font_size=TITLE_SIZE)).to_edge(UP, buff=0.35)
    group = VGroup(heading)
    if subtitle:
        group.add(
            fit_width(Tex(subtitle, font_size=BODY_SIZE, color=GREY_B)).next_to(
                heading, DOWN, buff=0.15
            )
        )
    scene.play(FadeIn(group, shift=0.2 * DOWN), run_time=0.8)
    return group


def clear(scene, *keep, run_time: float = 0.6) -> None:
    """Fade out everything on screen except `keep`."""
    gone = [m for m in scene.mobjects if m not in keep]
    if gone:
        scene.play(*[FadeOut(m) for m in gone], run_time=run_time)


def spoken(value: float) -> str:
    """A number as the narration says it: "minus one", "0.5"."""
    if float(value).is_integer():
        words = ["zero", *NUMBER_WORDS[:10]]  # zero to ten
        n = int(value)
        if abs(n) <= 10:
            return ("minus " if n < 0 else "plus " if n > 0 else "") + words[abs(n)]
        return str(n)
    return f"{value:g}"


def function_axes(x_range=(-2, 2, 1), y_range=(-2, 2, 1), length: float = 5.5) -> Axes:
    """Axes for plotting a 1-D function, with numbered ticks."""
    return Axes(
        x_range=list(x_range),
        y_range=list(y_range),
        x_length=length,
        y_length=length * (y_range[1] - y_range[0]) / (x_range[1] - x_range[0]),
        tips=False,
        axis_config={"include_numbers": True, "font_size": 22, "color": GREY_B},
    )
