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
    Tex,
    VGroup,
    Write,
)

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


def title_card(scene, title: str, subtitle: str = "") -> VGroup:
    """Write a title (and an optional subtitle) at the top of the frame."""
    heading = Tex(title, font_size=TITLE_SIZE).to_edge(UP)
    group = VGroup(heading)
    if subtitle:
        group.add(Tex(subtitle, font_size=BODY_SIZE, color=GREY_B).next_to(heading, DOWN))
    scene.play(Write(heading), *[FadeIn(m) for m in group[1:]])
    return group


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
