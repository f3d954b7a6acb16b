"""Lesson 02's video: hand-built ReLU circuits, and whether training finds them.

Every curve is drawn from the networks the library builds (`relu_circuits`)
and trains (`relu_training`), the same objects the notebook uses.
Render: make video-02_hand_built_relu_circuits QUALITY=low|high
"""

import torch
from manim import *
from style import *

from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt


def net_graph(axes, net, colour, x_range=(-2, 2)):
    """Plot a 1-input network on axes by evaluating it."""

    def f(x):
        with torch.no_grad():
            return float(net(torch.tensor([[x]], dtype=torch.float32))[0, 0])

    return axes.plot(f, x_range=[*x_range, 0.01], color=colour, stroke_width=5)


def unit_net(net, unit):
    """The i-th hidden unit of a 1-2-1 net alone, times its output weight."""
    w_in, w_out = net.weights[0][unit : unit + 1], net.weights[1][:, unit : unit + 1]
    return rc.relu_net(w_in, w_out)


def weights_matrix(tensor):
    """A Manim Matrix of a weight tensor, entries as short numbers."""
    rows = [[f"{v:.3g}" for v in row] for row in tensor.detach().tolist()]
    return Matrix(rows, h_buff=1.1).scale(0.6)


class TwoDetectors(Scene):
    def construct(self):
        title_card(self, "Two detectors and a reconstructor")
        net = rc.identity_net()
        axes = function_axes().shift(DOWN * 0.4 + LEFT * 2)
        self.play(Create(axes))

        # -- the positiveness and negativeness detectors, from identity's hidden layer
        detectors = []
        for unit, colour, tex in [(0, POSITIVE, r"\mathrm{ReLU}(x)"),
                                  (1, NEGATIVE, r"\mathrm{ReLU}(-x)")]:
            w = net.weights[0][unit : unit + 1]
            graph = net_graph(axes, rc.relu_net(w, torch.ones(1, 1)), colour)
            label = MathTex(tex, color=colour, font_size=BODY_SIZE)
            label.next_to(axes, RIGHT).shift(UP * (1.2 - unit))
            self.play(Create(graph), Write(label), run_time=1.2)
            detectors.append(graph)

        # -- the reconstructor subtracts them: identity
        formula = MathTex(r"x = \mathrm{ReLU}(x) - \mathrm{ReLU}(-x)", font_size=BODY_SIZE,
                          color=OUTPUT).next_to(axes, RIGHT).shift(DOWN * 0.8)
        self.play(ReplacementTransform(VGroup(*detectors), net_graph(axes, net, OUTPUT)),
                  Write(formula), run_time=1.5)
        self.wait(1)


class AbsAssembled(Scene):
    def construct(self):
        title_card(self, r"$|x|$: add the detectors instead")
        net = rc.abs_net()
        axes = function_axes(y_range=(0, 2, 1)).shift(DOWN * 0.3 + LEFT * 2.2)
        self.play(Create(axes))

        # -- the weights, straight from the library's network
        w_in = VGroup(MathTex(r"W_{in} =", font_size=BODY_SIZE), weights_matrix(net.weights[0]))
        w_out = VGroup(MathTex(r"W_{out} =", font_size=BODY_SIZE),
                       weights_matrix(net.weights[1]))
        for group in (w_in, w_out):
            group.arrange(RIGHT)
        VGroup(w_in, w_out).arrange(DOWN, aligned_edge=LEFT).next_to(axes, RIGHT, buff=0.6)
        self.play(FadeIn(w_in), FadeIn(w_out))

        # -- each unit times its output weight, then their sum
        parts = [net_graph(axes, unit_net(net, u), c) for u, c in ((0, POSITIVE), (1, NEGATIVE))]
        self.play(*[Create(p) for p in parts], run_time=1.2)
        total = net_graph(axes, net, OUTPUT)
        self.play(ReplacementTransform(VGroup(*parts), total), run_time=1.5)
        self.wait(1)


class MinFromGreaterness(Scene):
    def construct(self):
        title_card(self, r"$\min(x_1, x_2)$ = reconstructed $x_1$ $-$ greaterness",
                   r"a slice at $x_2 = 0.5$")
        x2 = 0.5
        axes = function_axes().shift(DOWN * 0.6 + LEFT * 2.2)
        self.play(Create(axes))

        def on_slice(net):
            """The 2-input net as a function of x1 with x2 fixed."""
            def f(x):
                with torch.no_grad():
                    return float(net(torch.tensor([[x, x2]], dtype=torch.float32))[0, 0])
            return f

        full = rc.min_net()
        w_in, w_out = full.weights
        # -- the three hidden units of min_net, grouped by motif
        reconstructed = rc.relu_net(w_in[:2], w_out[:, :2])
        greaterness = rc.relu_net(w_in[2:], -w_out[:, 2:])  # drawn with a + sign
        g_recon = axes.plot(on_slice(reconstructed), x_range=[-2, 2, 0.01], color=POSITIVE,
                            stroke_width=5)
        g_greater = axes.plot(on_slice(greaterness), x_range=[-2, 2, 0.01], color=NEGATIVE,
                              stroke_width=5)
        labels = VGroup(
            MathTex(r"\mathrm{ReLU}(x_1) - \mathrm{ReLU}(-x_1)", color=POSITIVE,
                    font_size=LABEL_SIZE),
            MathTex(r"\mathrm{ReLU}(x_1 - x_2)", color=NEGATIVE, font_size=LABEL_SIZE),
            MathTex(r"\min(x_1, x_2)", color=OUTPUT, font_size=LABEL_SIZE),
        ).arrange(DOWN, aligned_edge=LEFT).next_to(axes, RIGHT, buff=0.5)
        self.play(Create(g_recon), Write(labels[0]))
        self.play(Create(g_greater), Write(labels[1]))
        result = axes.plot(on_slice(full), x_range=[-2, 2, 0.01], color=OUTPUT, stroke_width=6)
        self.play(ReplacementTransform(VGroup(g_recon, g_greater), result), Write(labels[2]),
                  run_time=1.5)
        self.wait(1)


class TrainingFindsIt(Scene):
    def construct(self):
        title_card(self, "Does training find it?", "abs, trained from two seeds")
        runs = rt.train("abs", seeds=[0, 1], progress=False)
        axes = function_axes(y_range=(-1, 2, 1), length=5).shift(DOWN * 0.6 + LEFT * 2.4)
        target = net_graph(axes, rc.abs_net(), TARGET)
        self.play(Create(axes), Create(target))

        # -- each seed's trained network, coloured by the outcome the library names
        for i, seed in enumerate(runs.seeds):
            outcome = runs.outcomes[i]
            colour = GOOD if outcome == "found" else NEGATIVE
            graph = net_graph(axes, runs.net(i), colour)
            w = [f"{v:.3f}" for v in runs.final[0][i, :, 0].tolist()]
            note = VGroup(
                Tex(f"seed {seed}: {outcome}", color=colour, font_size=BODY_SIZE),
                MathTex(rf"W_{{in}} = [{w[0]}, {w[1]}]", font_size=LABEL_SIZE),
            ).arrange(DOWN, aligned_edge=LEFT)
            note.next_to(axes, RIGHT, buff=0.5).shift(UP * (1 - 2 * i))
            self.play(Create(graph), FadeIn(note), run_time=1.5)
        self.wait(1.5)
