"""Lesson 02's video: hand-built ReLU circuits, and whether training finds them.

Every curve, weight and count is drawn from the networks the library builds
(`relu_circuits`) and trains (`relu_training`), the same objects the notebook
uses. The narration beside each animation is the video's script.
Render: make video-02_hand_built_relu_circuits QUALITY=low|high
"""

import torch
from manim import *
from style import *

from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt

SEEDS = range(20)  # the notebook's sweep trains every function from these seeds


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


def weights_panel(net):
    """W_in and W_out of a network, stacked."""
    rows = VGroup()
    for name, w in ((r"W_{in} =", net.weights[0]), (r"W_{out} =", net.weights[1])):
        rows.add(
            VGroup(MathTex(name, font_size=BODY_SIZE), weights_matrix(w)).arrange(RIGHT)
        )
    return rows.arrange(DOWN, aligned_edge=LEFT, buff=0.4)


class TwoDetectors(NarratedScene):
    """Two detectors and a reconstructor."""

    def construct(self):
        net = rc.identity_net()
        (w_pos, w_neg), w_out = (
            net.weights[0][:, 0].tolist(),
            net.weights[1][0].tolist(),
        )
        negation_out = rc.negation_net().weights[1][0].tolist()

        sizes = (1, *rc.hidden_size(net), 1)
        diagram = network_diagram(sizes, height=2.4, spacing=2.4).shift(DOWN * 0.5)
        parts = VGroup(
            MathTex("x", font_size=BODY_SIZE).next_to(diagram[1], LEFT),
            Tex(f"{sizes[1]} ReLU units", font_size=LABEL_SIZE).next_to(
                diagram[2], DOWN, buff=0.4
            ),
            MathTex("?", font_size=BODY_SIZE, color=OUTPUT).next_to(diagram[3], RIGHT),
        )
        self.next_section("question")
        with self.voiceover(
            text="How small can a neural network be and still compute a function exactly? "
            "In this video we build the smallest ReLU networks by hand, following Sean "
            "Osier's Mathematical Circuits in Neural Networks, name the parts they reuse, "
            "and then ask whether gradient descent finds the same circuits on its own."
        ):
            title_card(
                self,
                "Two detectors and a reconstructor",
                "",
                Create(diagram),
                FadeIn(parts),
                run_time=1.5,
            )

        self.next_section("detectors")
        axes = function_axes().shift(DOWN * 0.5 + LEFT * 2.4)
        with self.voiceover(
            text="Our networks have no biases. A hidden unit multiplies its input by a "
            "weight and applies ReLU, which keeps positive numbers and turns negative "
            "ones into zero."
        ):
            self.play(Indicate(diagram[2], color=HIGHLIGHT), run_time=1.5)
            self.play(FadeOut(VGroup(diagram, parts)), Create(axes))
        detectors, labels = [], VGroup()
        spoken_sign = {0: spoken(w_pos), 1: spoken(w_neg)}
        lines = {
            0: "the positiveness detector: it passes x when x is positive, and is "
            "silent otherwise.",
            1: "the negativeness detector: it fires only when x is negative, and "
            "outputs how negative.",
        }
        for unit, colour, tex in [
            (0, POSITIVE, r"\mathrm{ReLU}(x)"),
            (1, NEGATIVE, r"\mathrm{ReLU}(-x)"),
        ]:
            w = net.weights[0][unit : unit + 1]
            graph = net_graph(axes, rc.relu_net(w, torch.ones(1, 1)), colour)
            label = MathTex(tex, color=colour, font_size=BODY_SIZE)
            label.next_to(axes, RIGHT, buff=0.5).shift(UP * (1.6 - 0.9 * unit))
            with self.voiceover(
                text=f"With input weight {spoken_sign[unit]}, the unit is {lines[unit]}"
            ):
                self.play(Create(graph), Write(label), run_time=1.2)
            detectors.append(graph)
            labels.add(label)

        self.next_section("reconstructor")
        formula = MathTex(
            r"x = \mathrm{ReLU}(x) - \mathrm{ReLU}(-x)",
            font_size=BODY_SIZE,
            color=OUTPUT,
        ).next_to(labels, DOWN, buff=0.5, aligned_edge=LEFT)
        with self.voiceover(
            text="Now subtract the second detector from the first. For positive x only "
            "the first fires, and gives x. For negative x only the second fires; it "
            "gives minus x, and the subtraction turns that back into x. Together the "
            "two detectors reconstruct their input: this is the identity function, "
            "built from two hidden units."
        ) as tracker:
            self.play(
                ReplacementTransform(VGroup(*detectors), net_graph(axes, net, OUTPUT)),
                Write(formula),
                run_time=min(3, tracker.duration),
            )
        panel = weights_panel(net).next_to(formula, DOWN, buff=0.5, aligned_edge=LEFT)
        with self.voiceover(
            text=f"These are the library's weights for it: input weights {spoken(w_pos)} "
            f"and {spoken(w_neg)}, output weights {spoken(w_out[0])} and "
            f"{spoken(w_out[1])}. Osier calls this pair the reconstructor. Swap the "
            f"output weights to {spoken(negation_out[0])} and {spoken(negation_out[1])}, "
            "and the same two detectors compute negation."
        ):
            self.play(FadeIn(panel))

        self.next_section("why two")
        with self.voiceover(
            text="Why two units, and not one? A single ReLU unit without a bias is zero on "
            "a whole half of the number line, so it can never follow x on both sides of "
            "zero. Two units is the smallest network that can."
        ):
            self.play(Indicate(labels, color=HIGHLIGHT), run_time=1.5)


class AbsAssembled(NarratedScene):
    """Absolute value: add the detectors instead."""

    def construct(self):
        net = rc.abs_net()
        w_out = net.weights[1][0].tolist()
        axes = function_axes(y_range=(0, 2, 1)).shift(DOWN * 0.4 + LEFT * 2.4)
        panel = weights_panel(net).next_to(axes, RIGHT, buff=0.8)
        parts = [
            net_graph(axes, unit_net(net, u), c)
            for u, c in ((0, POSITIVE), (1, NEGATIVE))
        ]
        self.next_section("abs")
        with self.voiceover(
            text="Keep the same two detectors, but combine them differently. What if we "
            "add them instead of subtracting?"
        ):
            title_card(
                self,
                r"$|x|$: add the detectors instead",
                "",
                Create(axes),
                *[Create(p) for p in parts],
                run_time=1.5,
            )
        with self.voiceover(
            text=f"The library's absolute-value network has the same input weights, and "
            f"output weights {spoken(w_out[0])} and {spoken(w_out[1])}."
        ):
            self.play(FadeIn(panel))

        self.next_section("sum")
        with self.voiceover(
            text="Each unit, times its output weight, draws one arm. For positive x the "
            "positiveness detector gives x. For negative x the negativeness detector gives "
            "minus x, which is positive."
        ):
            for part in parts:
                self.play(Indicate(part, color=HIGHLIGHT, scale_factor=1.0), run_time=1)
        total = net_graph(axes, net, OUTPUT)
        formula = MathTex(
            r"|x| = \mathrm{ReLU}(x) + \mathrm{ReLU}(-x)",
            color=OUTPUT,
            font_size=BODY_SIZE,
        ).next_to(panel, DOWN, buff=0.6, aligned_edge=LEFT)
        with self.voiceover(
            text="Their sum is the absolute value: a V with its point at zero. Again two "
            "units is the least we can do with: the absolute value is positive on both "
            "sides of zero, and one bias-free unit is silent on one side."
        ):
            self.play(
                ReplacementTransform(VGroup(*parts), total),
                Write(formula),
                run_time=1.5,
            )

        self.next_section("one circuit")
        with self.voiceover(
            text="So identity, negation and absolute value are one circuit with different "
            "output weights. The hidden layer finds out which side of zero the input is "
            "on; the output layer decides what to do with each side."
        ):
            self.play(Indicate(panel[1], color=HIGHLIGHT), run_time=1.5)


class MinFromGreaterness(NarratedScene):
    """Minimum: a reconstructor and a greaterness unit."""

    def construct(self):
        x2 = 0.5
        full = rc.min_net()
        w_in, w_out = full.weights
        n_hidden = rc.hidden_size(full)[0]
        axes = function_axes().shift(DOWN * 0.7 + LEFT * 2.6)

        def on_slice(net):
            """The 2-input net as a function of x1 with x2 fixed."""

            def f(x):
                with torch.no_grad():
                    return float(
                        net(torch.tensor([[x, x2]], dtype=torch.float32))[0, 0]
                    )

            return f

        # the hidden units of min_net, grouped by motif
        reconstructed = rc.relu_net(w_in[:2], w_out[:, :2])
        greaterness = rc.relu_net(w_in[2:], -w_out[:, 2:])  # drawn with a + sign
        g_recon = axes.plot(
            on_slice(reconstructed),
            x_range=[-2, 2, 0.01],
            color=POSITIVE,
            stroke_width=5,
        )
        g_greater = axes.plot(
            on_slice(greaterness), x_range=[-2, 2, 0.01], color=NEGATIVE, stroke_width=5
        )
        labels = (
            VGroup(
                MathTex(
                    r"\mathrm{ReLU}(x_1) - \mathrm{ReLU}(-x_1)",
                    color=POSITIVE,
                    font_size=LABEL_SIZE,
                ),
                MathTex(
                    r"\mathrm{ReLU}(x_1 - x_2)", color=NEGATIVE, font_size=LABEL_SIZE
                ),
                MathTex(r"\min(x_1, x_2)", color=OUTPUT, font_size=LABEL_SIZE),
            )
            .arrange(DOWN, aligned_edge=LEFT, buff=0.35)
            .next_to(axes, RIGHT, buff=0.6)
        )
        labels.shift(UP * 1.2)
        self.next_section("greaterness")
        with self.voiceover(
            text="Two inputs now. The minimum of x one and x two needs one new part: the "
            "greaterness unit, ReLU of x one minus x two. It measures by how much x one is "
            "bigger than x two, and is zero when x one is the smaller."
        ):
            title_card(
                self,
                r"$\min(x_1, x_2)$: reconstruct $x_1$, subtract greaterness",
                rf"a slice through the plane at $x_2 = {x2}$",
                Create(axes),
                Write(labels[1]),
                run_time=1.5,
            )
        with self.voiceover(
            text=f"We draw everything along a slice: x two held at {x2}, x one running "
            "from minus two to two. Here is the greaterness unit: flat while x one is "
            "below x two, then rising."
        ):
            self.play(Create(g_greater), run_time=1.5)

        self.next_section("reconstruct")
        with self.voiceover(
            text="The minimum is x one, minus that excess. When x one is the smaller, "
            "nothing is subtracted. When it is the bigger, we subtract exactly how much "
            "bigger it is, and land on x two. But x one itself has to cross a ReLU layer, "
            "so it travels through a reconstructor: the two detectors from before."
        ):
            self.play(Create(g_recon), Write(labels[0]))
        result = axes.plot(
            on_slice(full), x_range=[-2, 2, 0.01], color=OUTPUT, stroke_width=6
        )
        panel = (
            weights_panel(full)
            .scale(0.85)
            .next_to(labels, DOWN, buff=0.5, aligned_edge=LEFT)
        )
        with self.voiceover(
            text=f"Reconstructor minus greaterness: {n_hidden} hidden units in all, and "
            "these are their weights. On the slice the result follows x one, then bends "
            "flat at x two. The maximum is the mirror image: x one plus the greaterness "
            "of x two over x one."
        ) as tracker:
            self.play(
                ReplacementTransform(VGroup(g_recon, g_greater), result),
                Write(labels[2]),
                run_time=min(2, tracker.duration),
            )
            self.play(FadeIn(panel))

        self.next_section("motifs")
        self.motif_table()

    def motif_table(self):
        table = rc.motif_table()
        sizes = {name: rc.hidden_size(rc.HAND_BUILT[name][0]()) for name in table}
        motif_names = list(rc.MOTIFS)
        count = NUMBER_WORDS[len(motif_names) - 1].capitalize()
        title = f"{count} motifs build every circuit"
        heading = title_group(title)
        header = (
            [Text("function", font_size=20, color=GREY_B)]
            + [Text(m, font_size=20, color=GREY_B) for m in motif_names]
            + [Text("hidden units", font_size=20, color=GREY_B)]
        )
        cells = []
        for name, used in table.items():
            cells += [Text(name, font_size=20)]
            cells += [
                Dot(radius=0.09, color=GOOD)
                if used[m]
                else Dot(radius=0.04, color=GREY_B)
                for m in motif_names
            ]
            cells += [Text("-".join(map(str, sizes[name])) or "none", font_size=20)]
        grid = VGroup(*header, *cells).arrange_in_grid(
            rows=len(table) + 1, cols=len(header), buff=(0.5, 0.16)
        )
        fit_width(grid)
        grid.scale_to_fit_height(min(grid.height, 5.0)).next_to(
            heading, DOWN, buff=0.35
        )
        rows = [
            VGroup(*grid[k : k + len(header)]) for k in range(0, len(grid), len(header))
        ]
        min4 = "-".join(map(str, sizes["min4"]))
        with self.voiceover(
            text=f"The lesson builds {len(table)} functions this way. Every one of them is "
            f"made from {len(motif_names)} motifs: the positiveness and negativeness "
            "detectors, the reconstructor, and greaterness. Addition and subtraction "
            "reuse them; the minimum of four numbers is two minimums side by side and a "
            f"minimum of their answers, with hidden layers of {min4.replace('-', ' and ')} "
            "units."
        ):
            title_card(
                self, title, "", FadeIn(VGroup(*rows[:3])), run_time=1.2, replace=True
            )
            self.play(
                LaggedStart(*[FadeIn(row) for row in rows[3:]], lag_ratio=0.15),
                run_time=1.5,
            )
        with self.voiceover(
            text="Olah and colleagues call it universality when the same features and "
            "circuits turn up again and again. Here they recur from one function to the "
            "next. The question that remains: would a network trained from random weights "
            "find these circuits too?"
        ):
            self.play(Indicate(rows[0][1:5], color=HIGHLIGHT), run_time=1.5)


class TrainingFindsIt(NarratedScene):
    """Does training find it?"""

    def construct(self):
        runs = rt.train("abs", seeds=SEEDS, progress=False)
        counts = rt.outcome_counts({"abs": runs})["abs"]
        sides = rt.start_side_table({"abs": runs})["abs"]
        n = len(runs.seeds)
        colour_of = {"found": GOOD, "dead region": NEGATIVE, "other": GREY_B}
        tiles = VGroup()
        for s in runs.seeds:
            tile = Square(0.62, stroke_width=2, stroke_color=GREY_B)
            tiles.add(VGroup(tile, Text(str(s), font_size=18).move_to(tile)))
        tiles.arrange_in_grid(rows=4, buff=0.12).to_edge(LEFT, buff=0.8).shift(
            DOWN * 0.6
        )
        self.next_section("experiment")
        with self.voiceover(
            text=f"We take the two-unit shape of the absolute value, start it from {n} "
            "different random weights, and train each with gradient descent on random "
            "inputs between minus one and one. Same data for every seed: only the start "
            "differs."
        ):
            title_card(
                self,
                "Does training find it?",
                f"$|x|$, trained from {n} seeds",
                LaggedStart(*[FadeIn(t) for t in tiles], lag_ratio=0.05),
                run_time=1.2,
            )

        self.next_section("outcomes")
        legend = (
            VGroup(
                *[
                    Tex(
                        f"{name}: {counts[name]}",
                        color=colour_of[name],
                        font_size=BODY_SIZE,
                    )
                    for name in ("found", "dead region", "other")
                    if counts[name]
                ]
            )
            .arrange(DOWN, aligned_edge=LEFT)
            .next_to(tiles, RIGHT, buff=0.8)
            .align_to(tiles, UP)
        )
        dead_word = "seed" if counts["dead region"] == 1 else "seeds"
        with self.voiceover(
            text=f"{counts['found']} of the {n} seeds find the absolute value exactly, "
            "with hidden units that match the hand-built detectors. "
            f"{counts['dead region']} {dead_word} end in what Osier calls a dead region."
        ):
            self.play(
                LaggedStart(
                    *[
                        tile[0]
                        .animate.set_stroke(colour_of[o])
                        .set_fill(colour_of[o], opacity=0.35)
                        for tile, o in zip(tiles, runs.outcomes, strict=True)
                    ],
                    lag_ratio=0.05,
                ),
                run_time=2,
            )
            self.play(FadeIn(legend))

        self.next_section("two seeds")
        found = runs.outcomes.index("found") if "found" in runs.outcomes else None
        dead = (
            runs.outcomes.index("dead region")
            if "dead region" in runs.outcomes
            else None
        )
        shown = [i for i in (found, dead) if i is not None]
        axes = function_axes(y_range=(-1, 2, 1), length=4.8).shift(
            DOWN * 0.7 + LEFT * 3
        )
        target = net_graph(axes, rc.abs_net(), TARGET)
        with self.voiceover(
            text="Here are two of them, drawn over the target in grey."
        ):
            self.play(FadeOut(tiles), FadeOut(legend), Create(axes), Create(target))
        notes = VGroup()
        for k, i in enumerate(shown):
            outcome = runs.outcomes[i]
            colour = colour_of[outcome]
            w = [f"{v:.3f}" for v in runs.final[0][i, :, 0].tolist()]
            w0 = [f"{v:.2f}" for v in runs.initial[0][i, :, 0].tolist()]
            note = VGroup(
                Tex(
                    f"seed {runs.seeds[i]}: {outcome}",
                    color=colour,
                    font_size=BODY_SIZE,
                ),
                MathTex(
                    rf"\text{{start }} W_{{in}} = [{w0[0]}, {w0[1]}]",
                    font_size=LABEL_SIZE,
                ),
                MathTex(
                    rf"\text{{end }} W_{{in}} = [{w[0]}, {w[1]}]", font_size=LABEL_SIZE
                ),
            ).arrange(DOWN, aligned_edge=LEFT)
            notes.add(note)
            graph = net_graph(axes, runs.net(i), colour)
            side = rt.start_sides(runs)[i]
            text = (
                f"Seed {runs.seeds[i]} found it: its input weights, which started on "
                f"{'opposite sides' if side == 'opposite' else 'the same side'} of zero, "
                "ended one positive and one negative: the two detectors, rescaled."
                if outcome == "found"
                else f"Seed {runs.seeds[i]} did not. Its input weights started on "
                f"{'opposite sides' if side == 'opposite' else 'the same side'} of zero, and "
                "the curve stays flat where every hidden unit is silent."
            )
            if k:
                note.next_to(notes[0], DOWN, buff=0.6, aligned_edge=LEFT)
            else:
                note.next_to(axes, RIGHT, buff=0.7).align_to(axes, UP)
            with self.voiceover(text=text):
                self.play(Create(graph), FadeIn(note), run_time=1.5)

        self.next_section("why")
        same, opposite = sides.get("same side", {}), sides.get("opposite", {})
        n_same, n_opp = sum(same.values()), sum(opposite.values())
        table = (
            VGroup(
                Tex(
                    f"same side at the start: {same.get('found', 0)} of {n_same} found",
                    font_size=LABEL_SIZE,
                ),
                Tex(
                    f"opposite sides: {opposite.get('found', 0)} of {n_opp} found",
                    font_size=LABEL_SIZE,
                ),
            )
            .arrange(DOWN, aligned_edge=LEFT)
            .to_edge(DOWN, buff=0.4)
        )
        table.align_to(notes, LEFT)
        with self.voiceover(
            text="Why? When both input weights have the same sign, both units are silent "
            "for inputs of the other sign. A silent ReLU passes no gradient back, so "
            "nothing there teaches the network about that half of the line; unless a "
            "weight is pushed through zero while the other side is still being fit, that "
            "half stays dead. "
            f"Of the {n_same} seeds that started that way, {same.get('found', 0)} found "
            f"the circuit; of the {n_opp} that started on opposite sides, "
            f"{opposite.get('found', 0)} did."
        ):
            self.play(FadeIn(table))
        with self.voiceover(
            text="So the smallest circuit exists, and training can find it, but whether it "
            "does is decided early, by where the weights start. In the notebook you train "
            "every function from these seeds and see where each one gets stuck."
        ):
            self.play(Indicate(table, color=HIGHLIGHT), run_time=1.5)
        self.wait(0.5)
