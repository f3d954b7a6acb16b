"""Lesson 01, the linear algebra of MLPs: the scenes in playback order.

The story of "Why do Neural Networks use Linear Algebra?": a change of units,
the dot product, a layer as a matrix, basis vectors and what a neuron looks
for, ReLU and the privileged basis, superposition, latent-space arithmetic.
Every number drawn here comes from the neuralcircuits library, the same
functions the lesson calls (the toy MLP, the counting embeddings and the
superposition toy models are retrained here: all are seeded and take seconds).
The narration beside each animation is the video's script.
Render: make video-01_linear_algebra_of_mlps QUALITY=low|high
"""

import torch
from manim import *
from style import *

from neuralcircuits.science import analogies, linear_maps, superposition, toy_classifier


def _fmt(value: float) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def _toy_layers():
    """The lesson's trained two-moons MLP and its first two layers' weights."""
    model = toy_classifier.train_toy_mlp()
    W_in, b_in = model.hidden.weight.detach(), model.hidden.bias.detach()
    W_out, b_out = model.feature.weight.detach(), model.feature.bias.detach()
    return model, W_in, b_in, W_out, b_out


class UnitsToDotProduct(NarratedScene):
    """From a change of units to a dot product."""

    def construct(self):
        self.next_section("units")
        units = MathTex(
            r"\text{pounds} = 2.2 \times \text{kg}", font_size=BODY_SIZE + 8
        )
        units.shift(UP * 1.2)
        with self.voiceover(
            text="Why do neural networks run on linear algebra? Start with something "
            "everyone has done: a change of units. To turn kilograms into pounds you "
            "multiply by 2.2. That is already a tiny neuron: one input, one weight."
        ):
            title_card(
                self,
                "A neuron is a dot product",
                "from a change of units",
                Write(units),
                run_time=1.5,
            )

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
        self.next_section("weighted sum")
        with self.voiceover(
            text="Now let the answer depend on two things: a price of 3 per kilogram of "
            "one ingredient, 4 per kilogram of another, plus 1 for the box. That weighted "
            "sum is the dot product of a weight vector w with the input x, plus a bias b."
        ):
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
        with self.voiceover(
            text=f"With {_fmt(x[0])} and {_fmt(x[1])} kilograms, the neuron computes "
            f"{_fmt(price)}. Every neuron in a network does exactly this: a dot product "
            "of its weights with its inputs, plus a bias."
        ):
            self.play(FadeIn(example))

        # What the dot product measures: the projection on w
        self.next_section("projection")
        plane = NumberPlane(
            x_range=[-1, 5, 1],
            y_range=[-1, 4, 1],
            x_length=6,
            y_length=5,
            background_line_style={"stroke_opacity": 0.3},
        ).shift(LEFT * 2.8 + DOWN * 0.7)
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
        with self.voiceover(
            text="What does a dot product measure? Draw the weights as an arrow, w, and "
            "the input as another, x."
        ):
            self.play(
                FadeOut(VGroup(units, weighted, dot, example)),
                Create(plane),
                GrowArrow(w_arrow),
                GrowArrow(v_arrow),
                FadeIn(labels),
            )
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
            .to_edge(RIGHT, buff=0.6)
            .shift(DOWN * 0.3)
        )
        with self.voiceover(
            text=f"Drop x onto the line of w: its shadow is {_fmt(reach)} long. The dot "
            "product is that shadow times the length of w. It is large when x points "
            f"the way w points; here the cosine of the angle between them is {_fmt(cos)}. "
            "So a neuron is a detector: it measures how much its input points along one "
            "direction, the direction of its weights."
        ):
            self.play(Create(drop), Create(shadow))
            self.play(Write(formula))


class LayerIsAMatrix(NarratedScene):
    """A layer is a matrix."""

    def construct(self):
        _, W_in, b_in, W_out, b_out = _toy_layers()
        W, b = W_in[:3], b_in[:3]  # three of the trained MLP's six neurons
        x = torch.tensor([0.5, -1.0])
        y = linear_maps.layer(x[None], W, b)[0]
        eq = MathTex(r"y = W x + b", font_size=BODY_SIZE + 8).shift(UP * 1.6)
        rows = [[_fmt(v) for v in row] for row in W.tolist()]
        Wm = Matrix(rows, h_buff=1.5).scale(0.65)
        for k, colour in enumerate((POSITIVE, HIGHLIGHT, GOOD)):
            Wm.get_rows()[k].set_color(colour)
        xm = Matrix([[_fmt(v)] for v in x.tolist()]).scale(0.65)
        bm = Matrix([[_fmt(v)] for v in b.tolist()]).scale(0.65)
        ym = Matrix([[_fmt(v)] for v in y.tolist()]).scale(0.65).set_color(OUTPUT)
        product = VGroup(Wm, xm, MathTex("+"), bm, MathTex("="), ym).arrange(RIGHT)
        fit_width(product).next_to(eq, DOWN, buff=0.6)
        self.next_section("stack")
        with self.voiceover(
            text="A layer is many neurons reading the same input. Stack their weight "
            "vectors as the rows of a matrix W, and their biases into a vector b. The "
            "whole layer is then one matrix product: W times x, plus b."
        ):
            title_card(
                self,
                "A layer is a matrix",
                "",
                Write(eq),
                FadeIn(product),
                run_time=1.5,
            )
        self.next_section("numbers")
        with self.voiceover(
            text="These are three real neurons from the small network the lesson trains. "
            "Each coloured row is one neuron's weights; each output entry is that neuron's "
            "dot product with the input, plus its bias."
        ):
            for k in range(3):
                self.play(
                    Indicate(Wm.get_rows()[k]), Indicate(ym.get_rows()[k]), run_time=0.8
                )

        self.next_section("collapse")
        W2, _ = linear_maps.collapse_linear_layers(W_in, b_in, W_out, b_out)
        shapes = MathTex(
            r"W_2 (W_1 x + b_1) + b_2 = (W_2 W_1)\,x + (W_2 b_1 + b_2)",
            font_size=BODY_SIZE,
        ).next_to(product, DOWN, buff=0.7)
        fit_width(shapes)
        note = Tex(
            f"{W_in.shape[0]} hidden neurons, yet one {W2.shape[0]}"
            rf"$\times${W2.shape[1]} matrix does the same",
            font_size=LABEL_SIZE,
            color=GREY_B,
        ).next_to(shapes, DOWN, buff=0.35)
        with self.voiceover(
            text="Stack a second layer on the first and something disappointing happens: "
            "two matrix products in a row are just one matrix product. Without something "
            f"in between, this network's {W_in.shape[0]} hidden neurons collapse into a "
            f"single {W2.shape[0]} by {W2.shape[1]} matrix. Depth buys nothing until we "
            "add a non-linearity. Hold that thought."
        ):
            self.play(Write(shapes))
            self.play(FadeIn(note))


class MatrixChangesBasis(NarratedScene):
    """Basis vectors, and what a neuron looks for."""

    def construct(self):
        M = linear_maps.matrix_from_controls(
            angle_deg=30, scale_x=1.5, scale_y=0.8, shear=0.5
        )
        entries = [[_fmt(value) for value in row] for row in M.tolist()]
        self.next_section("grid")
        plane = NumberPlane(
            x_range=[-4, 4, 1],
            y_range=[-3, 3, 1],
            x_length=6.4,
            y_length=4.8,
            background_line_style={"stroke_opacity": 0.6},
        )
        plane.shift(LEFT * 3.2 + DOWN * 0.7)
        faint = plane.copy().set_opacity(0.2)
        origin = plane.c2p(0, 0)
        unit = plane.c2p(1, 0)[0] - origin[0]
        e1 = Arrow(origin, plane.c2p(1, 0), buff=0, color=GOOD)
        e2 = Arrow(origin, plane.c2p(0, 1), buff=0, color=NEGATIVE)
        with self.voiceover(
            text="There is a second way to read the same matrix: as a change of basis. "
            "Take the plane, with its two basis vectors: one step along x, in green, and "
            "one step along y, in red."
        ):
            self.add(faint)
            title_card(
                self,
                "A matrix is a change of basis",
                "",
                Create(plane),
                GrowArrow(e1),
                GrowArrow(e2),
                run_time=1.5,
            )

        matrix = (
            Matrix(entries, h_buff=1.6)
            .scale(0.7)
            .to_edge(RIGHT, buff=0.8)
            .shift(UP * 0.8)
        )
        for k, colour in enumerate([GOOD, NEGATIVE]):
            matrix.get_columns()[k].set_color(colour)
        name = MathTex("M =").next_to(matrix, LEFT)
        panel = BackgroundRectangle(VGroup(name, matrix), fill_opacity=0.9, buff=0.2)
        panel.stretch_to_fit_height(5.0, about_edge=UP)
        panel.stretch_to_fit_width(5.4, about_edge=RIGHT)
        screen = [
            [float(M[0, 0]), float(M[0, 1]), 0],
            [float(M[1, 0]), float(M[1, 1]), 0],
            [0, 0, 1],
        ]
        self.next_section("columns")
        with self.voiceover(
            text="Apply the matrix M to every point of the plane. The grid lines stay "
            "straight, parallel and evenly spaced, and the origin stays put: that is what "
            "linear means. Watch where the basis vectors go."
        ) as tracker:
            self.add(panel)
            self.play(Write(name), Write(matrix))
            self.play(
                ApplyMatrix(screen, plane, about_point=origin),
                e1.animate.put_start_and_end_on(
                    origin,
                    origin + unit * np.array([float(M[0, 0]), float(M[1, 0]), 0]),
                ),
                e2.animate.put_start_and_end_on(
                    origin,
                    origin + unit * np.array([float(M[0, 1]), float(M[1, 1]), 0]),
                ),
                run_time=max(1.0, min(3, tracker.duration - 1.5)),
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
            .next_to(matrix, DOWN, buff=0.4)
        )
        note.align_to(name, LEFT)
        with self.voiceover(
            text="The first basis vector lands on the first column of M, the second on "
            "the second column. The columns say where the axes go; everything else "
            "follows."
        ):
            self.play(Write(note))

        # Coordinates of one vector in the new basis
        v = torch.tensor([1.0, 2.0])
        c = linear_maps.coordinates_in_basis(v, M)
        coords = (
            MathTex(
                r"v = "
                + _fmt(c[0])
                + r"\,Me_1 "
                + ("+" if c[1] >= 0 else "-")
                + _fmt(abs(c[1]))
                + r"\,Me_2",
                font_size=BODY_SIZE,
            )
            .next_to(note, DOWN, buff=0.4)
            .align_to(name, LEFT)
        )
        v_arrow = Arrow(
            origin, origin + unit * np.array([*v.tolist(), 0]), buff=0, color=OUTPUT
        )
        self.next_section("coordinates")
        with self.voiceover(
            text=f"In the new basis the same vector v has new coordinates: {_fmt(c[0])} of "
            f"the first new axis and {_fmt(c[1])} of the second. Square, invertible "
            "layers are exactly this: the same space, described in new coordinates."
        ):
            self.play(GrowArrow(v_arrow), Write(coords))

        self.next_section("rows")
        rows_note = Tex(
            r"row $i$ of $M$: what output $i$ looks for",
            font_size=LABEL_SIZE,
            color=HIGHLIGHT,
        )
        fit_width(rows_note, panel.width - 0.4).next_to(coords, DOWN, buff=0.4)
        rows_note.align_to(panel, RIGHT).shift(LEFT * 0.2)
        with self.voiceover(
            text="And the rows? Each output of M is the dot product of one row with the "
            "input. So the columns tell you where the input's axes go, and each row tells "
            "you what one neuron looks for: the direction that makes it fire most."
        ):
            self.play(
                Indicate(matrix.get_rows()[0], color=HIGHLIGHT), FadeIn(rows_note)
            )


class ReluPrivilegedBasis(NarratedScene):
    """ReLU and the privileged basis."""

    def construct(self):
        _, W_in, b_in, W_out, b_out = _toy_layers()
        X, _ = toy_classifier.two_moons()
        d_hidden = len(W_in)
        R = linear_maps.random_rotation(d_hidden, seed=0)
        P = torch.eye(d_hidden)[
            torch.randperm(d_hidden, generator=torch.Generator().manual_seed(0))
        ]
        change = {
            (name, relu): linear_maps.rotation_test(
                X, W_in, b_in, W_out, b_out, Q, relu
            )
            for name, Q in (("rotation", R), ("permutation", P))
            for relu in (False, True)
        }
        # ReLU on the trained layer: the pre-activations of one input point (one
        # with about as many negative as positive), and what ReLU keeps
        pre = X @ W_in.T + b_in  # [n_points, d_hidden]
        mixed = int(((pre < 0).sum(1) - d_hidden / 2).abs().argmin())
        before = pre[mixed]
        relu_example = VGroup(
            MathTex(
                r"\mathrm{ReLU}\left(\begin{bmatrix}"
                + r" \\ ".join(_fmt(v) for v in before.tolist())
                + r"\end{bmatrix}\right) = \begin{bmatrix}"
                + r" \\ ".join(_fmt(v) for v in torch.relu(before).tolist())
                + r"\end{bmatrix}",
                font_size=BODY_SIZE,
            ),
            Tex(
                f"one input point through the trained layer's {d_hidden} neurons",
                font_size=LABEL_SIZE,
                color=GREY_B,
            ),
        ).arrange(DOWN, buff=0.35)
        relu_example.shift(DOWN * 0.5)
        self.next_section("relu")
        with self.voiceover(
            text="The non-linearity most networks use is ReLU: keep each coordinate if it "
            "is positive, else zero. It acts on each neuron separately, and that changes "
            "how we can read a network."
        ):
            title_card(
                self, "ReLU makes the neuron basis special", "", FadeIn(relu_example)
            )

        # ReLU in the neuron basis, and in a rotated basis, on a ring of points
        angles = torch.linspace(0, 2 * torch.pi, 49)[:-1]
        ring = torch.stack([torch.cos(angles), torch.sin(angles)], 1) * 1.2
        rot = linear_maps.rotation_2d(torch.pi / 6)
        panels = VGroup()
        outputs = {
            "neuron basis": torch.relu(ring),
            "rotated basis": linear_maps.relu_in_basis(ring, rot),
        }
        for label, out in outputs.items():
            axes = Axes(
                x_range=[-1.5, 1.5, 1],
                y_range=[-1.5, 1.5, 1],
                x_length=3.6,
                y_length=3.6,
                tips=False,
                axis_config={"color": GREY_B},
            )
            before = VGroup(
                *[Dot(axes.c2p(*p.tolist()), radius=0.035, color=GREY_B) for p in ring]
            )
            after = VGroup(
                *[Dot(axes.c2p(*p.tolist()), radius=0.045, color=OUTPUT) for p in out]
            )
            caption = Tex(f"ReLU in the {label}", font_size=LABEL_SIZE).next_to(
                axes, DOWN
            )
            panels.add(VGroup(axes, before, after, caption))
        panels.arrange(RIGHT, buff=1.2).shift(DOWN * 0.6)
        self.next_section("fold")
        with self.voiceover(
            text="Here is a ring of points. ReLU in the neuron basis folds them onto the "
            "positive quarter of the plane, along the neurons' own axes."
        ):
            self.play(
                FadeOut(relu_example),
                FadeIn(panels[0][0]),
                FadeIn(panels[0][1]),
                FadeIn(panels[0][3]),
            )
            self.play(Transform(panels[0][1].copy(), panels[0][2]), run_time=1.5)
        with self.voiceover(
            text="Describe the same space in a rotated basis and apply ReLU there, and the "
            "fold lands somewhere else. A linear layer could not tell the two bases "
            "apart. ReLU can: it gives the neuron basis a privileged status."
        ):
            self.play(FadeIn(panels[1][0]), FadeIn(panels[1][1]), FadeIn(panels[1][3]))
            self.play(Transform(panels[1][1].copy(), panels[1][2]), run_time=1.5)

        self.next_section("rotation test")
        rows = (
            VGroup(
                *[
                    Tex(
                        f"{name}, {'with ReLU' if relu else 'no ReLU'}: largest output change "
                        f"{value:.1e}",
                        font_size=BODY_SIZE,
                        color=NEGATIVE if value > 1e-3 else GOOD,
                    )
                    for (name, relu), value in change.items()
                ]
            )
            .arrange(DOWN, aligned_edge=LEFT, buff=0.35)
            .shift(DOWN * 0.5)
        )
        fit_width(rows)
        with self.voiceover(
            text=f"Test it on the lesson's trained network. Rotate its {d_hidden} "
            "dimensional hidden space by a random rotation, and undo the rotation in the "
            "next layer. Without ReLU, the output does not change, apart from rounding "
            f"errors of about {change[('rotation', False)]:.0e}. With ReLU, the same "
            f"rotation changes the output by up to {change[('rotation', True)]:.1f}. "
            "Reordering the neurons, a permutation, changes nothing either way."
        ):
            title_card(
                self,
                "The rotation test",
                "the lesson's trained two-moons MLP",
                FadeIn(rows[0]),
                run_time=1.2,
                replace=True,
            )
            self.play(
                LaggedStart(*[FadeIn(r) for r in rows[1:]], lag_ratio=0.4), run_time=2
            )
        with self.voiceover(
            text="So with ReLU, individual neurons mean something, and it is worth asking "
            "what each one detects."
        ):
            self.play(Indicate(rows[1], color=HIGHLIGHT))


class ReluFoldsThePlane(NarratedScene):
    """ReLU folds the plane until a line separates the classes."""

    def construct(self):
        model = toy_classifier.train_toy_mlp()
        X, y = toy_classifier.two_moons()
        X, y = X[::3], y[::3]  # a third of the points is plenty on screen
        lines = linear_maps.grid_lines(extent=2.5, n_lines=11, n_points=61)
        feature_points = toy_classifier.feature_map(
            model, torch.cat([lines.reshape(-1, 2), X])
        )
        scale_in = 2.6 / 2.5
        scale_out = 2.6 / float(feature_points.abs().max())
        centre = DOWN * 0.7 + LEFT * 1.2

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

        sizes = (
            model.hidden.in_features,
            model.hidden.out_features,
            model.feature.out_features,
            model.readout.out_features,
        )
        shape = "-".join(str(size) for size in sizes)
        self.next_section("moons")
        grid = always_redraw(grid_mobject)
        dots = always_redraw(dots_mobject)
        with self.voiceover(
            text="Now watch what ReLU neurons do together. The lesson trains a small "
            "network to separate two interleaved moons of points, blue and yellow. No "
            "straight line can split them in the input plane."
        ):
            title_card(
                self,
                "ReLU folds the plane",
                f"the lesson's trained {shape} MLP",
                FadeIn(grid),
                FadeIn(dots),
                run_time=1.2,
            )

        # Each hidden neuron is a half-plane detector: its boundary line
        W, b = model.hidden.weight.detach(), model.hidden.bias.detach()
        boundaries = VGroup()
        for w_k, b_k in zip(W, b, strict=True):
            direction = torch.tensor([-w_k[1], w_k[0]]) / w_k.norm()
            foot = -b_k * w_k / w_k.norm() ** 2
            ends = torch.stack([foot - 2.4 * direction, foot + 2.4 * direction])
            p = ends.numpy() * scale_in
            boundaries.add(
                Line(
                    np.array([*p[0], 0]) + centre,
                    np.array([*p[1], 0]) + centre,
                    color=HIGHLIGHT,
                    stroke_width=2,
                )
            )
        caption = Tex(
            f"{len(W)} ReLU neurons: {len(W)} fold lines", font_size=LABEL_SIZE
        )
        caption.to_corner(DR, buff=0.6)
        self.next_section("fold lines")
        with self.voiceover(
            text=f"Each of its {len(W)} hidden neurons looks for one direction, and fires "
            "on one side of a line, where its dot product plus bias is positive. These are "
            f"the {len(W)} lines where the neurons switch on: the fold lines."
        ):
            self.play(Create(boundaries), FadeIn(caption))
        self.play(FadeOut(boundaries), FadeOut(caption))

        self.next_section("warp")
        with self.voiceover(
            text="Now send every point through the network, and slide each one from where "
            "it starts to where the network puts it. The first layer, the ReLU folds and "
            "the second layer together carry the plane into a new one: the network's "
            "features."
        ) as t:
            self.play(
                tracker.animate.set_value(1.0),
                run_time=min(6, t.duration),
                rate_func=smooth,
            )
        grid.clear_updaters()
        dots.clear_updaters()

        # The readout is one straight line in the feature plane
        w_out, b_out = toy_classifier.readout_line(model)
        normal = w_out / w_out.norm()
        along = torch.tensor([-normal[1], normal[0]])
        foot = -b_out * normal / w_out.norm()
        ends = torch.stack(
            [foot - 2.6 / scale_out * along, foot + 2.6 / scale_out * along]
        )
        p = ends.numpy() * scale_out
        cut = Line(
            np.array([*p[0], 0]) + centre,
            np.array([*p[1], 0]) + centre,
            color=GOOD,
            stroke_width=5,
        )
        accuracy = toy_classifier.accuracy(model, *toy_classifier.two_moons())
        label = Tex(
            f"one line separates them:\\\\accuracy {accuracy:.1%}".replace("%", r"\%"),
            font_size=LABEL_SIZE,
            color=GOOD,
        ).to_corner(DR, buff=0.6)
        self.next_section("line")
        with self.voiceover(
            text="In the folded plane, one straight line does separate the two classes: "
            f"the network gets {accuracy:.0%} of the points right. Linear maps move and "
            "stretch; ReLU folds; together they make curved problems straight."
        ):
            self.play(Create(cut), FadeIn(label))


class Superposition(NarratedScene):
    """Superposition: more features than dimensions."""

    def construct(self):
        models = superposition.train_toy_models()
        dense, sparse = models[min(models)], models[max(models)]
        n = dense.n_features
        d_hidden = dense.W.shape[0]
        net = network_diagram(
            (n, d_hidden, n), height=3.4, spacing=2.6, colours=(OUTPUT, TEXT, OUTPUT)
        ).shift(DOWN * 0.7)
        names = VGroup(
            Tex(f"{n} features", font_size=LABEL_SIZE).next_to(net[1], DOWN),
            Tex(f"{d_hidden} dimensions", font_size=LABEL_SIZE).next_to(net[2], DOWN),
            Tex(f"ReLU: all {n} back", font_size=LABEL_SIZE).next_to(net[3], DOWN),
        )
        names[1].align_to(names[0], DOWN)
        names[2].align_to(names[0], DOWN)
        model_picture = VGroup(net, names)
        self.next_section("setup")
        with self.voiceover(
            text="So can we read a network one neuron at a time? Not always. Elhage and "
            f"colleagues' toy model of superposition squeezes {n} features through a hidden "
            f"layer of {d_hidden} dimensions, and asks for all of them back, "
            "through a ReLU."
        ):
            title_card(
                self,
                "Superposition: more features than dimensions",
                f"Elhage et al. 2022: {n} features, {d_hidden} hidden dimensions",
                Create(net),
                FadeIn(names),
                run_time=2,
            )

        panels = VGroup()
        for model in (dense, sparse):
            plane = NumberPlane(
                x_range=[-1.4, 1.4, 1],
                y_range=[-1.4, 1.4, 1],
                x_length=3.9,
                y_length=3.9,
                background_line_style={"stroke_opacity": 0.25},
            )
            arrows = VGroup()
            for i, d in enumerate(superposition.feature_directions(model).tolist()):
                colour = interpolate_color(OUTPUT, NEGATIVE, i / max(n - 1, 1))
                arrows.add(
                    Arrow(
                        plane.c2p(0, 0),
                        plane.c2p(*d),
                        buff=0,
                        color=colour,
                        stroke_width=4,
                        max_tip_length_to_length_ratio=0.15,
                    )
                )
            stored = len(superposition.stored_features(model))
            caption = Tex(
                f"sparsity {model.sparsity:g}: {stored} of {n} stored",
                font_size=LABEL_SIZE,
            ).next_to(plane, DOWN, buff=0.2)
            panels.add(VGroup(plane, arrows, caption))
        panels.arrange(RIGHT, buff=1.4).shift(DOWN * 0.6)
        stored_dense = len(superposition.stored_features(dense))
        stored_sparse = len(superposition.stored_features(sparse))
        self.next_section("dense")
        with self.voiceover(
            text="Each arrow is one feature's direction in the hidden plane, brightest for "
            "the most important. When every feature is active most of the time, the "
            f"trained model keeps only {stored_dense}, at right angles, one per dimension, "
            "and drops the rest."
        ):
            self.play(
                FadeOut(model_picture),
                Create(panels[0][0]),
                GrowArrow(panels[0][1][0]),
                FadeIn(panels[0][2]),
            )
            self.play(
                LaggedStart(*[GrowArrow(a) for a in panels[0][1][1:]], lag_ratio=0.2)
            )
        polygon = superposition.is_regular_polygon(sparse)
        shape = (
            "at equal angles, a regular polygon"
            if polygon
            else "packed around the circle"
        )
        self.next_section("sparse")
        with self.voiceover(
            text=f"Make the features sparse, each active only {1 - sparse.sparsity:.0%} of "
            f"the time, and the model stores {stored_sparse} features in two dimensions, "
            f"{shape}. That is superposition: more features than dimensions, at the price "
            "of some interference whenever two are active together, which the ReLU and a "
            "negative bias mostly hide."
        ):
            self.play(
                Create(panels[1][0]),
                FadeIn(panels[1][2]),
                LaggedStart(*[GrowArrow(a) for a in panels[1][1]], lag_ratio=0.2),
            )
        per_neuron = superposition.features_per_neuron(sparse)
        with self.voiceover(
            text=f"Now look at one hidden dimension of the sparse model: it reads "
            f"{per_neuron[0]} features at once. A single neuron's activation no longer "
            "names one thing. ReLU makes the neuron basis special; superposition is why "
            "single neurons can still be hard to read."
        ):
            self.play(Indicate(panels[1][1], color=HIGHLIGHT), run_time=1.5)


def _spread(values: list[float], gap: float) -> list[float]:
    """Move sorted label heights apart until neighbours are at least `gap` apart, centred."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [values[i] for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    shift = (sum(values) - sum(placed)) / len(placed)
    out = [0.0] * len(values)
    for k, i in enumerate(order):
        out[i] = placed[k] + shift
    return out


class AnalogyArrows(NarratedScene):
    """Latent-space arithmetic."""

    def construct(self):
        E = analogies.embeddings(analogies.train_counting_embeddings())
        P = analogies.analogy_plane(E, "numeral", "word")
        P = (P - P.mean(0)) / P.abs().max(0).values * torch.tensor([2.6, 2.2])
        centre = DOWN * 0.55

        def at(token: str) -> np.ndarray:
            x, y = P[analogies.VOCAB.index(token)].tolist()
            return np.array([x, y, 0]) + centre

        colours = {"numeral": POSITIVE, "word": NEGATIVE, "month": GOOD}
        counting = (
            VGroup(
                *[
                    Text(
                        " ".join(tokens[4:7]) + "  →  " + tokens[7],
                        font_size=28,
                        color=colours[name],
                    )
                    for name, tokens in analogies.FORMATS.items()
                ]
            )
            .arrange(DOWN, buff=0.45)
            .shift(DOWN * 0.5)
        )
        self.next_section("embeddings")
        with self.voiceover(
            text="Last, arithmetic in latent space. The lesson trains a small embedding to "
            "count: from a number, written as a numeral, a word or a month, predict the "
            "next one."
        ):
            title_card(
                self,
                "Latent-space arithmetic",
                "embeddings trained to count",
                LaggedStart(*[FadeIn(row) for row in counting], lag_ratio=0.3),
                run_time=1.5,
            )

        # Labels in two columns, numerals left and words right, spread so none overlap,
        # each tied to its point by a thin leader line.
        dots, labels, leaders = VGroup(), VGroup(), VGroup()
        for name, colour, side in (
            ("numeral", POSITIVE, LEFT),
            ("word", NEGATIVE, RIGHT),
        ):
            tokens = analogies.FORMATS[name]
            heights = _spread([at(t)[1] for t in tokens], gap=0.36)
            column_x = (
                min(at(t)[0] for t in tokens) - 1.0
                if side is LEFT
                else max(at(t)[0] for t in tokens) + 1.0
            )
            for token, h in zip(tokens, heights, strict=True):
                dot = Dot(at(token), radius=0.05, color=colour)
                label = Text(token, font_size=18, color=colour)
                if side is LEFT:
                    label.move_to([column_x, h, 0], aligned_edge=RIGHT)
                else:
                    label.move_to([column_x, h, 0], aligned_edge=LEFT)
                end = label.get_right() if side is LEFT else label.get_left()
                leaders.add(
                    Line(
                        end - side * 0.05,
                        at(token),
                        stroke_width=1,
                        color=colour,
                        stroke_opacity=0.5,
                    )
                )
                dots.add(dot)
                labels.add(label)
        with self.voiceover(
            text="Squash its embedding vectors down to a plane, along the direction that "
            "separates numerals from words: numerals on the left, in blue, the same "
            "numbers as words on the right, in red."
        ):
            self.play(FadeOut(counting), FadeIn(dots), FadeIn(labels), FadeIn(leaders))
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
        self.next_section("arrows")
        with self.voiceover(
            text="Draw an arrow from each numeral to its word. They all point roughly the "
            "same way: the embedding has learned one direction that means written as a "
            "word, shared by every number."
        ):
            self.play(
                LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.1),
                run_time=2.5,
            )

        answer = analogies.analogy(E, "5", "five", "7")
        equation = MathTex(
            r"E(\text{five}) - E(5) + E(7) \approx E(\text{" + answer + "})",
            font_size=BODY_SIZE,
            color=OUTPUT,
        ).to_edge(DOWN, buff=0.35)
        for arrow, numeral in zip(arrows, analogies.NUMERALS, strict=True):
            if numeral in ("5", "7"):
                arrow.set_color(OUTPUT).set_stroke(width=5)
        self.next_section("analogy")
        with self.voiceover(
            text="So take the embedding of the word five, subtract the embedding of the "
            "numeral five, and add the numeral seven. The nearest embedding to the result "
            f"is {answer}."
        ):
            self.play(Write(equation))
        n_formats, n_values = len(analogies.FORMATS), len(analogies.NUMERALS)
        n_analogies = n_formats * (n_formats - 1) * n_values * (n_values - 1)
        score = analogies.analogy_accuracy(E)["all"]
        score_all = analogies.analogy_accuracy(E, exclude_query=False)["all"]
        result = Tex(
            rf"all {n_analogies} format analogies: {score:.1%} right".replace(
                "%", r"\%"
            ),
            font_size=LABEL_SIZE,
            color=GOOD,
        ).next_to(equation, UP, buff=0.25)
        with self.voiceover(
            text=f"Over all {n_analogies} analogies between the three formats, {score:.0%} come out "
            f"right, or {score_all:.0%} if the three query words may be answers too. Dot products, matrices, a privileged basis, features in superposition, "
            "and directions you can add: that is the linear algebra inside an MLP, and the "
            "notebook lets you try each piece yourself."
        ):
            self.play(FadeIn(result))
        self.wait(0.5)
