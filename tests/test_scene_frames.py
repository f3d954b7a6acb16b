"""Key diagrams of the videos, compared pixel by pixel with stored frames.

Manim's `frames_comparison` renders the last frame of each test at a small
size and compares it with `tests/control_data/scenes/<test>.npz`. After an
intended change to a diagram, regenerate them:
`pytest tests/test_scene_frames.py --set_test`.
"""

import importlib
import sys

import torch
from manim import DOWN, LEFT, RIGHT, Dot, Matrix, NumberPlane, VGroup
from manim.utils.testing import frames_comparison as _frames
from manim.utils.testing.frames_comparison import frames_comparison

from neuralcircuits.science import linear_maps
from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.tooling.paths import ANIMATIONS

__module_test__ = "scenes"
# Manim skips these tests below cairo 1.18 because its own control frames were
# drawn with 1.18; ours are drawn with the cairo of `make setup` (Debian 12: 1.16).
_frames.MIN_CAIRO_VERSION = 0

sys.path.insert(0, str(ANIMATIONS))
style = importlib.import_module("style")
lesson02 = importlib.import_module("02_hand_built_relu_circuits")


@frames_comparison
def test_abs_network_diagram(scene):
    """Lesson 02: |x| from the two detectors, with the library's weights."""
    net = rc.abs_net()
    axes = style.function_axes(y_range=(0, 2, 1)).shift(DOWN * 0.4 + LEFT * 2.4)
    parts = [
        lesson02.net_graph(axes, lesson02.unit_net(net, u), c)
        for u, c in ((0, style.POSITIVE), (1, style.NEGATIVE))
    ]
    panel = lesson02.weights_panel(net).next_to(axes, RIGHT, buff=0.8)
    scene.add(axes, *parts, lesson02.net_graph(axes, net, style.OUTPUT), panel)


@frames_comparison
def test_change_of_basis_grid(scene):
    """Lesson 01: the plane and its basis vectors after the lesson's matrix."""
    M = linear_maps.matrix_from_controls(
        angle_deg=30, scale_x=1.5, scale_y=0.8, shear=0.5
    )
    plane = NumberPlane(
        x_range=[-4, 4, 1], y_range=[-3, 3, 1], x_length=6.4, y_length=4.8
    )
    plane.shift(LEFT * 3.2 + DOWN * 0.7)
    origin = plane.c2p(0, 0)
    screen = [
        [float(M[0, 0]), float(M[0, 1]), 0],
        [float(M[1, 0]), float(M[1, 1]), 0],
        [0, 0, 1],
    ]
    plane.apply_matrix(screen, about_point=origin)
    matrix = Matrix([[f"{v:.2f}" for v in row] for row in M.tolist()]).scale(0.7)
    scene.add(plane, matrix.to_edge(RIGHT, buff=0.8))


@frames_comparison
def test_relu_fold_in_two_bases(scene):
    """Lesson 01: a ring folded by ReLU in the neuron basis and in a rotated one."""
    angles = torch.linspace(0, 2 * torch.pi, 49)[:-1]
    ring = torch.stack([torch.cos(angles), torch.sin(angles)], 1) * 1.2
    rot = linear_maps.rotation_2d(torch.pi / 6)
    for points, shift in (
        (torch.relu(ring), LEFT * 3),
        (linear_maps.relu_in_basis(ring, rot), RIGHT * 3),
    ):
        scene.add(
            VGroup(
                *[
                    Dot([*p.tolist(), 0], radius=0.05, color=style.OUTPUT)
                    for p in points
                ]
            ).shift(shift)
        )
