"""The look every lesson's video shares: colours, type sizes, common pieces.

Scenes import from here (``from style import *``) so a maintainer changes the
course's look in one place. Numbers never come from here: scenes compute them
with the `neuralcircuits` library, the same code the notebooks run.
"""

import itertools

from manim import (
    BLUE_C,
    DOWN,
    GREEN_C,
    GREY_B,
    ORANGE,
    ORIGIN,
    RED_C,
    RIGHT,
    UP,
    WHITE,
    YELLOW_C,
    Axes,
    Circle,
    FadeIn,
    FadeOut,
    Line,
    Tex,
    VGroup,
    config,
)
from manim.utils.rate_functions import ease_out_cubic
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


def title_group(title: str, subtitle: str = "") -> VGroup:
    """A title (and an optional subtitle) at the top of the frame, not yet shown."""
    heading = fit_width(Tex(title, font_size=TITLE_SIZE)).to_edge(UP, buff=0.35)
    group = VGroup(heading)
    if subtitle:
        group.add(
            fit_width(Tex(subtitle, font_size=BODY_SIZE, color=GREY_B)).next_to(
                heading, DOWN, buff=0.15
            )
        )
    return group


def title_card(
    scene,
    title: str,
    subtitle: str = "",
    *picture,
    run_time: float = 0.8,
    replace: bool = False,
) -> VGroup:
    """Show a title (and an optional subtitle) at the top of the frame, with `picture`.

    `picture` is the chapter's first diagram, as animations played with the
    title: a chapter opens on what it explains, never on a bare title while
    the narration runs (tests/test_scenes.py measures it on the frames).
    `replace=True` fades out what is on screen in the same move, so the frame
    never goes blank between the two. The title fades in whole, never written
    stroke by stroke: a frame grabbed at any moment shows the title complete
    or not at all; the fade starts fast (ease out), so the first frames of a
    chapter are not empty.
    """
    group = title_group(title, subtitle)
    gone = [FadeOut(m) for m in scene.mobjects] if replace else []
    scene.play(
        *gone,
        FadeIn(group, shift=0.2 * DOWN),
        *picture,
        run_time=run_time,
        rate_func=ease_out_cubic,
    )
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


def network_diagram(
    sizes, height: float = 3.0, spacing: float = 2.2, colours=None
) -> VGroup:
    """Layers of neurons as columns of circles, each joined to the next layer's.

    Returns VGroup(edges, layer 0, layer 1, ...); `colours` gives each layer's.
    """
    colours = colours or [TEXT] * len(sizes)
    layers = VGroup()
    for k, (n, colour) in enumerate(zip(sizes, colours, strict=True)):
        radius = min(0.22, height / (2.6 * max(n, 1)))
        column = VGroup(
            *[Circle(radius, color=colour, stroke_width=3) for _ in range(n)]
        ).arrange(DOWN, buff=min(0.35, height / max(n, 1) - 2 * radius))
        layers.add(column.move_to(RIGHT * k * spacing))
    edges = VGroup(
        *[
            Line(a.get_right(), b.get_left(), stroke_width=1.5, color=GREY_B)
            for left, right in itertools.pairwise(layers)
            for a in left
            for b in right
        ]
    )
    return VGroup(edges, *layers).move_to(ORIGIN)


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
