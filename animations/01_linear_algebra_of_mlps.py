"""Lesson 01, the linear algebra of MLPs: the scenes in playback order.

Every number drawn here comes from the neuralcircuits library, the same
functions the lesson calls (the toy MLP and the counting embeddings are
retrained here: both trainings are seeded and take about a second).
"""

import torch
from manim import *
from style import *

from neuralcircuits.science import analogies, linear_maps, toy_classifier


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


class UnitsToDotProduct(Scene):
    def construct(self):
        title_card(self, "A neuron is a dot product", "from a change of units")

        # A change of units is one multiplication
        units = MathTex(
            r"\text{pounds} = 2.2 \times \text{kg}", font_size=BODY_SIZE + 8
        )
        units.shift(UP * 1.2)
        self.play(Write(units))
        self.wait(0.5)

        # Several inputs: a weighted sum, which is a dot product
        w = torch.tensor([3.0, 4.0])
        x = torch.tensor([2.0, 0.5])
        b = 1.0
        price = float(linear_maps.neuron(x[None], w, b)[0])
        weighted = MathTex(
            r"\text{price} = 3\,x_1 + 4\,x_2 + 1", font_size=BODY_SIZE + 8
        )
        dot = MathTex(r"= w \cdot x + b", font_size=BODY_SIZE + 8, color=OUTPUT)
        VGroup(weighted, dot).arrange(RIGHT).next_to(units, DOWN, buff=0.7)
        self.play(Write(weighted))
        self.play(Write(dot))
        example = MathTex(
            r"w = \begin{bmatrix} 3 \\ 4 \end{bmatrix},\ x = \begin{bmatrix} "
            + _fmt(x[0])
            + r" \\ "
            + _fmt(x[1])
            + r" \end{bmatrix}:\quad w\cdot x + b = "
            + _fmt(price),
            font_size=BODY_SIZE,
        ).next_to(VGroup(weighted, dot), DOWN, buff=0.7)
        self.play(FadeIn(example))
        self.wait(1)
        self.play(FadeOut(VGroup(units, weighted, dot, example)))

        # What the dot product measures: the projection on w
        plane = NumberPlane(
            x_range=[-1, 5, 1],
            y_range=[-1, 4, 1],
            x_length=6,
            y_length=5,
            background_line_style={"stroke_opacity": 0.3},
        )
        plane.shift(LEFT * 2.5 + DOWN * 0.6)
        direction = torch.tensor([1.0, 0.5])
        v = torch.tensor([2.0, 3.0])
        reach = float(linear_maps.projection_length(v, direction))
        foot = reach * direction / direction.norm()
        cos = float(linear_maps.cosine_similarity(v, direction))
        w_arrow = Arrow(
            plane.c2p(0, 0),
            plane.c2p(*(1.6 * direction).tolist()),
            buff=0,
            color=POSITIVE,
        )
        v_arrow = Arrow(plane.c2p(0, 0), plane.c2p(*v.tolist()), buff=0, color=OUTPUT)
        drop = DashedLine(
            plane.c2p(*v.tolist()), plane.c2p(*foot.tolist()), color=GREY_B
        )
        shadow = Line(
            plane.c2p(0, 0), plane.c2p(*foot.tolist()), color=HIGHLIGHT, stroke_width=8
        )
        labels = VGroup(
            MathTex("w", color=POSITIVE).next_to(w_arrow.get_end(), DOWN),
            MathTex("x", color=OUTPUT).next_to(v_arrow.get_end(), UP),
        )
        self.play(Create(plane), GrowArrow(w_arrow), GrowArrow(v_arrow), FadeIn(labels))
        self.play(Create(drop), Create(shadow))
        formula = (
            VGroup(
                MathTex(
                    r"w \cdot x = \lVert w \rVert\,\lVert x \rVert \cos\theta",
                    font_size=BODY_SIZE,
                ),
                MathTex(
                    r"\text{projection} = " + _fmt(reach),
                    font_size=BODY_SIZE,
                    color=HIGHLIGHT,
                ),
                MathTex(r"\cos\theta = " + _fmt(cos), font_size=BODY_SIZE),
            )
            .arrange(DOWN, aligned_edge=LEFT)
            .to_edge(RIGHT)
            .shift(DOWN * 0.3)
        )
        self.play(Write(formula))
        self.wait(1)


class MatrixChangesBasis(Scene):
    def construct(self):
        title_card(self, "A matrix is a change of basis")
        M = linear_maps.matrix_from_controls(
            angle_deg=30, scale_x=1.5, scale_y=0.8, shear=0.5
        )
        entries = [[_fmt(value) for value in row] for row in M.tolist()]
        plane = NumberPlane(
            x_range=[-4, 4, 1],
            y_range=[-3, 3, 1],
            x_length=6.4,
            y_length=4.8,
            background_line_style={"stroke_opacity": 0.6},
        )
        plane.shift(LEFT * 3 + DOWN * 0.7)
        faint = plane.copy().set_opacity(0.2)
        origin = plane.c2p(0, 0)
        unit = plane.c2p(1, 0)[0] - origin[0]
        e1 = Arrow(origin, plane.c2p(1, 0), buff=0, color=GOOD)
        e2 = Arrow(origin, plane.c2p(0, 1), buff=0, color=NEGATIVE)
        self.add(faint)
        self.play(Create(plane), GrowArrow(e1), GrowArrow(e2))

        matrix = (
            Matrix(entries, h_buff=1.6)
            .scale(0.7)
            .to_edge(RIGHT, buff=0.5)
            .shift(UP * 0.8)
        )
        for k, colour in enumerate([GOOD, NEGATIVE]):
            matrix.get_columns()[k].set_color(colour)
        name = MathTex("M =").next_to(matrix, LEFT)
        panel = BackgroundRectangle(VGroup(name, matrix), fill_opacity=0.9, buff=0.2)
        panel.stretch_to_fit_height(5.2, about_edge=UP)
        panel.stretch_to_fit_width(5.2, about_edge=RIGHT)
        self.add(panel)
        self.play(Write(name), Write(matrix))

        # The grid follows the basis vectors to the matrix's columns
        screen = [
            [float(M[0, 0]), float(M[0, 1]), 0],
            [float(M[1, 0]), float(M[1, 1]), 0],
            [0, 0, 1],
        ]
        self.play(
            ApplyMatrix(screen, plane, about_point=origin),
            e1.animate.put_start_and_end_on(
                origin, origin + unit * np.array([float(M[0, 0]), float(M[1, 0]), 0])
            ),
            e2.animate.put_start_and_end_on(
                origin, origin + unit * np.array([float(M[0, 1]), float(M[1, 1]), 0])
            ),
            run_time=2.5,
        )
        self.bring_to_front(panel, name, matrix)
        note = (
            VGroup(
                MathTex(r"M e_1 = \text{column } 1", color=GOOD, font_size=BODY_SIZE),
                MathTex(
                    r"M e_2 = \text{column } 2", color=NEGATIVE, font_size=BODY_SIZE
                ),
            )
            .arrange(DOWN, aligned_edge=LEFT)
            .next_to(matrix, DOWN, buff=0.5)
        )
        note.align_to(name, LEFT)
        self.play(Write(note))

        # Coordinates of one vector in the new basis
        v = torch.tensor([1.0, 2.0])
        c = linear_maps.coordinates_in_basis(v, M)
        coords = MathTex(
            r"v = "
            + _fmt(c[0])
            + r"\,Me_1 "
            + ("+" if c[1] >= 0 else "-")
            + _fmt(abs(c[1]))
            + r"\,Me_2",
            font_size=BODY_SIZE,
        )
        coords.next_to(note, DOWN, buff=0.5).align_to(name, LEFT)
        v_arrow = Arrow(
            origin, origin + unit * np.array([*v.tolist(), 0]), buff=0, color=OUTPUT
        )
        self.play(GrowArrow(v_arrow), Write(coords))
        self.wait(1)


class ReluFoldsThePlane(Scene):
    def construct(self):
        title_card(self, "ReLU folds the plane", "the lesson's trained 2-6-2-1 MLP")
        model = toy_classifier.train_toy_mlp()
        X, y = toy_classifier.two_moons()
        X, y = X[::3], y[::3]  # a third of the points is plenty on screen
        lines = linear_maps.grid_lines(extent=2.5, n_lines=11, n_points=61)
        feature_points = toy_classifier.feature_map(
            model, torch.cat([lines.reshape(-1, 2), X])
        )
        scale_in = 2.8 / 2.5
        scale_out = 2.8 / float(feature_points.abs().max())
        centre = DOWN * 0.6

        def to_screen(points: torch.Tensor, t: float) -> np.ndarray:
            moved = toy_classifier.warp_path(model, points, t)
            scale = (1 - t) * scale_in + t * scale_out
            flat = moved.reshape(-1, 2).numpy() * scale
            return np.c_[flat, np.zeros(len(flat))] + centre

        tracker = ValueTracker(0.0)

        def grid_mobject():
            t = tracker.get_value()
            group = VGroup()
            for line in lines:
                group.add(
                    VMobject(
                        stroke_width=1.2, stroke_color=PURPLE_B, stroke_opacity=0.6
                    ).set_points_as_corners(to_screen(line, t))
                )
            return group

        def dots_mobject():
            t = tracker.get_value()
            where = to_screen(X, t)
            return VGroup(
                *[
                    Dot(p, radius=0.035, color=POSITIVE if label == 0 else OUTPUT)
                    for p, label in zip(where, y.tolist(), strict=True)
                ]
            )

        grid = always_redraw(grid_mobject)
        dots = always_redraw(dots_mobject)
        self.play(FadeIn(grid), FadeIn(dots))

        # Each hidden neuron is a half-plane detector: its boundary line
        W, b = model.hidden.weight.detach(), model.hidden.bias.detach()
        boundaries = VGroup()
        for w_k, b_k in zip(W, b, strict=True):
            direction = torch.tensor([-w_k[1], w_k[0]]) / w_k.norm()
            foot = -b_k * w_k / w_k.norm() ** 2
            ends = torch.stack([foot - 3 * direction, foot + 3 * direction])
            p = ends.numpy() * scale_in
            boundaries.add(
                Line(
                    [*p[0], 0] + centre,
                    [*p[1], 0] + centre,
                    color=HIGHLIGHT,
                    stroke_width=2,
                )
            )
        caption = Tex(
            f"{len(W)} ReLU neurons: {len(W)} fold lines", font_size=LABEL_SIZE
        )
        caption.to_corner(DL)
        self.play(Create(boundaries), FadeIn(caption))
        self.wait(0.5)
        self.play(FadeOut(boundaries), FadeOut(caption))

        # Send every point through the network
        self.play(tracker.animate.set_value(1.0), run_time=4, rate_func=smooth)
        grid.clear_updaters()
        dots.clear_updaters()

        # The readout is one straight line in the feature plane
        w_out, b_out = toy_classifier.readout_line(model)
        normal = w_out / w_out.norm()
        along = torch.tensor([-normal[1], normal[0]])
        foot = -b_out * normal / w_out.norm()
        ends = torch.stack([foot - 3 / scale_out * along, foot + 3 / scale_out * along])
        p = ends.numpy() * scale_out
        cut = Line([*p[0], 0] + centre, [*p[1], 0] + centre, color=GOOD, stroke_width=5)
        accuracy = toy_classifier.accuracy(model, *toy_classifier.two_moons())
        label = Tex(
            f"one line separates them: accuracy {accuracy:.1%}".replace("%", r"\%"),
            font_size=LABEL_SIZE,
            color=GOOD,
        ).to_corner(DL)
        self.play(Create(cut), FadeIn(label))
        self.wait(1)


class AnalogyArrows(Scene):
    def construct(self):
        title_card(self, "Latent-space arithmetic", "embeddings trained to count")
        E = analogies.embeddings(analogies.train_counting_embeddings())
        P = analogies.analogy_plane(E, "numeral", "word")
        P = (P - P.mean(0)) / P.abs().max(0).values * torch.tensor([4.5, 2.4])
        centre = DOWN * 0.5

        def at(token: str) -> np.ndarray:
            x, y = P[analogies.VOCAB.index(token)].tolist()
            return np.array([x, y, 0]) + centre

        dots = VGroup()
        for name, colour in (("numeral", POSITIVE), ("word", NEGATIVE)):
            for token in analogies.FORMATS[name]:
                dots.add(Dot(at(token), radius=0.05, color=colour))
                dots.add(
                    Text(token, font_size=16, color=colour).next_to(at(token), UR, 0.05)
                )
        self.play(FadeIn(dots))
        arrows = VGroup(
            *[
                Arrow(
                    at(F),
                    at(G),
                    buff=0.08,
                    stroke_width=2,
                    color=GREY_B,
                    tip_length=0.15,
                )
                for F, G in zip(analogies.NUMERALS, analogies.WORDS, strict=True)
            ]
        )
        self.play(
            LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.1), run_time=2.5
        )

        answer = analogies.analogy(E, "5", "five", "7")
        equation = MathTex(
            r"E(\text{five}) - E(5) + E(7) \approx E(\text{" + answer + "})",
            font_size=BODY_SIZE,
            color=OUTPUT,
        ).to_edge(DOWN, buff=0.3)
        for arrow, numeral in zip(arrows, analogies.NUMERALS, strict=True):
            if numeral in ("5", "7"):
                arrow.set_color(OUTPUT).set_stroke(width=5)
        self.play(Write(equation))
        score = analogies.analogy_accuracy(E)["all"]
        result = (
            Tex(
                rf"all 792 format analogies: {score:.1%} right".replace("%", r"\%"),
                font_size=LABEL_SIZE,
                color=GOOD,
            )
            .to_corner(UR)
            .shift(DOWN * 0.9)
        )
        self.play(FadeIn(result))
        self.wait(1)
