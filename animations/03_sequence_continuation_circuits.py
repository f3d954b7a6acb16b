"""Lesson 03's video: the circuit that continues sequences, and the part the tasks share.

Every number is computed here with the `neuralcircuits` library on the model
the lesson uses (``load_model("auto")``: GPT-2 small if its weights are on
this machine, else toy-seq), with the lesson's prompts and functions.
Render: make video-03_sequence_continuation_circuits QUALITY=low|high
"""

import functools

import torch
from manim import *
from style import *

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences
from neuralcircuits.science.models import load_model, model_name

TASK_COLOURS = {"numerals": POSITIVE, "number_words": HIGHLIGHT, "months": GOOD}


@functools.lru_cache(maxsize=1)
def numbers():
    """Everything the scenes draw, computed once per render."""
    model = load_model("auto", verbose=False)
    torch.set_num_threads(study.recommended_threads(model))
    data, _ = study.build_task_data(model)
    out = {"model": model, "name": model_name(model), "data": data}
    with torch.no_grad():
        out["logit_diff"] = {
            t: sequences.logit_diff(model(d.clean.tokens), d.clean).item()
            for t, d in data.items()
        }
    out["attention"] = {
        t: roles.attention_to_members(model, d.clean) for t, d in data.items()
    }
    out["patched"] = {
        t: study.patching_results(model, d, progress=False) for t, d in data.items()
    }
    setups = {t: cd.ablation_setup(model, d.clean, d.random) for t, d in data.items()}
    out["found"] = {
        t: cd.prune_circuit(model, s, progress=False) for t, s in setups.items()
    }
    out["shared"] = cd.circuit_overlap({t: r.circuit for t, r in out["found"].items()})
    out["shared_alone"] = {
        t: cd.circuit_performance(model, s, out["shared"]) for t, s in setups.items()
    }
    return out


def token_text(model, token) -> str:
    return model.tokenizer.decode([int(token)]).strip()


class TheTask(Scene):
    def construct(self):
        n = numbers()
        title_card(
            self, "Continue the sequence", f"three tasks, one model ({n['name']})"
        )
        rows = VGroup()
        for task, d in n["data"].items():
            words = d.clean.prompts[0].split()
            shown = " ".join(words[-12:])
            prompt = Text("... " + shown, font_size=22, color=TEXT)
            answer = Text(
                d.clean.answer_members[0],
                font_size=26,
                color=TASK_COLOURS[task],
                weight=BOLD,
            )
            ld = Text(
                f"logit diff {n['logit_diff'][task]:.1f}", font_size=20, color=GREY_B
            )
            row = VGroup(prompt, answer, ld).arrange(RIGHT, buff=0.35)
            rows.add(row)
        rows.arrange(DOWN, aligned_edge=LEFT, buff=0.6).next_to(ORIGIN, DOWN, buff=-1.2)
        rows.scale_to_fit_width(min(rows.width, 13))
        for row in rows:
            self.play(FadeIn(row[0]), run_time=0.7)
            self.play(Write(row[1]), FadeIn(row[2]), run_time=0.6)
        note = Text(
            "metric: logit(correct) - logit(last member repeated)",
            font_size=22,
            color=GREY_B,
        ).to_edge(DOWN)
        self.play(FadeIn(note))
        self.wait(1)


class AttentionCarriesTheLastMember(Scene):
    def construct(self):
        n = numbers()
        model, task = n["model"], "months"
        att = n["attention"][task][..., -1]  # [L, H]
        head = roles.top_heads(att, 1)[0][0]
        layer, h = (int(x) for x in head.split("."))
        title_card(
            self,
            f"Head {head} carries the last member",
            "attention from the final position",
        )
        ds = n["data"][task].clean
        words, pattern = study.attention_view(model, ds, 0, layer, h)
        start = int(ds.member_pos[0, 0]) - 4
        words, weights = words[start:], pattern[-1, start:]
        members = {int(p) - start for p in ds.member_pos[0]}
        labels = VGroup(
            *[
                Text(w.strip(), font_size=17, color=HIGHLIGHT if i in members else TEXT)
                for i, w in enumerate(words)
            ]
        )
        labels.arrange(RIGHT, buff=0.13).scale_to_fit_width(13).shift(DOWN * 2.2)
        bars = VGroup()
        for label, w in zip(labels, weights.tolist(), strict=True):
            bar = Rectangle(
                width=0.22,
                height=max(3.2 * w, 0.02),
                stroke_width=0,
                fill_color=OUTPUT,
                fill_opacity=0.9,
            )
            bar.next_to(label, UP, buff=0.12)
            bars.add(bar)
        self.play(FadeIn(labels))
        self.play(
            LaggedStart(*[GrowFromEdge(b, DOWN) for b in bars], lag_ratio=0.03),
            run_time=1.5,
        )
        last = max(members)
        arrow = CurvedArrow(
            labels[last].get_bottom() + DOWN * 0.1,
            labels[-1].get_bottom() + DOWN * 0.1,
            angle=PI / 3,
            color=HIGHLIGHT,
        )
        share = Text(
            f"{float(att[layer, h]):.0%} of its attention, averaged over prompts",
            font_size=22,
            color=HIGHLIGHT,
        ).to_edge(DOWN, buff=0.2)
        self.play(Create(arrow), FadeIn(share))
        self.wait(1)


class TheSuccessorMapping(Scene):
    def construct(self):
        n = numbers()
        model = n["model"]
        title_card(
            self,
            "Last member in, successor out",
            "the model's top answer, per last member",
        )
        columns = VGroup()
        for task, d in n["data"].items():
            both = [d.clean, d.random]
            ids = sequences.member_token_ids(model.tokenizer, task)
            pairs = {}
            for ds in both:
                top = sequences.last_logits(model, ds.tokens).argmax(-1)
                for last, t in zip(
                    ds.member_ids[:, -1].tolist(), top.tolist(), strict=True
                ):
                    pairs.setdefault(last, []).append(t)
            rows = VGroup()
            for m in sorted(pairs)[:11]:
                answer = max(set(pairs[m]), key=pairs[m].count)
                right = answer == int(ids[m + 1]) if m + 1 < 12 else False
                rows.add(
                    VGroup(
                        Text(sequences.members(task)[m], font_size=18, color=TEXT),
                        Arrow(
                            LEFT * 0.3,
                            RIGHT * 0.3,
                            buff=0,
                            stroke_width=3,
                            color=GOOD if right else NEGATIVE,
                        ),
                        Text(
                            token_text(model, answer),
                            font_size=18,
                            color=TASK_COLOURS[task],
                        ),
                    ).arrange(RIGHT, buff=0.15)
                )
            rows.arrange(DOWN, buff=0.12, aligned_edge=LEFT)
            columns.add(rows)
        columns.arrange(RIGHT, buff=1.0, aligned_edge=UP).next_to(
            ORIGIN, DOWN, buff=-2.2
        )
        columns.scale_to_fit_height(min(columns.height, 5.6))
        for col in columns:
            self.play(
                LaggedStart(*[FadeIn(r) for r in col], lag_ratio=0.1), run_time=1.2
            )
        self.wait(1)


class PatchingHeatmap(Scene):
    def construct(self):
        n = numbers()
        cfg = n["model"].cfg
        title_card(
            self,
            "Activation patching, head by head",
            "share of the clean answer restored (blue)",
        )
        grids = VGroup()
        side = min(0.5, 3.6 / max(cfg.n_heads, cfg.n_layers))
        for task, res in n["patched"].items():
            scores = res["heads"]
            cells = VGroup()
            for L in range(cfg.n_layers):
                for h in range(cfg.n_heads):
                    v = float(scores[L, h].clamp(-1, 1))
                    colour = interpolate_color(
                        WHITE, POSITIVE if v > 0 else NEGATIVE, abs(v)
                    )
                    sq = Square(
                        side,
                        stroke_width=1,
                        stroke_color=GREY_B,
                        fill_color=colour,
                        fill_opacity=1,
                    )
                    sq.move_to(RIGHT * h * side + DOWN * L * side)
                    cells.add(sq)
            best = roles.top_heads(scores, 1)[0]
            label = Text(
                f"{task}\nbest {best[0]}: {best[1]:.2f}",
                font_size=20,
                color=TASK_COLOURS[task],
                line_spacing=0.8,
            )
            grids.add(VGroup(cells, label.next_to(cells, DOWN)))
        grids.arrange(RIGHT, buff=0.9).shift(DOWN * 0.4)
        axis = Text("heads →, layers ↓", font_size=18, color=GREY_B).next_to(grids, UP)
        self.play(FadeIn(axis))
        for g in grids:
            self.play(
                LaggedStart(*[FadeIn(c) for c in g[0]], lag_ratio=0.02), run_time=1.0
            )
            self.play(FadeIn(g[1]), run_time=0.4)
        self.wait(1)


class TheSharedCircuit(Scene):
    def construct(self):
        n = numbers()
        cfg = n["model"].cfg
        title_card(
            self,
            "Three circuits, one shared core",
            "iterative pruning at threshold 0.8",
        )
        comps = cd.all_components(n["model"])
        side = min(0.45, 3.0 / max(cfg.n_heads + 1, cfg.n_layers))
        shared = set(n["shared"])
        panels = VGroup()
        for task, result in n["found"].items():
            circuit = set(result.circuit)
            nodes = VGroup()
            for c in comps:
                col = c.head if c.kind == "head" else cfg.n_heads
                dot = Circle(
                    radius=side * 0.38,
                    stroke_width=2,
                    stroke_color=GREY_B if c not in circuit else TASK_COLOURS[task],
                    fill_color=TASK_COLOURS[task],
                    fill_opacity=0.9 if c in circuit else 0,
                )
                dot.move_to(RIGHT * col * side + DOWN * c.layer * side)
                dot.component = c
                nodes.add(dot)
            label = Text(
                f"{task}\nkeeps {result.performance:.0%}",
                font_size=20,
                color=TASK_COLOURS[task],
                line_spacing=0.8,
            ).next_to(nodes, DOWN)
            panels.add(VGroup(nodes, label))
        panels.arrange(RIGHT, buff=1.0).shift(DOWN * 0.3)
        legend = Text(
            "heads, then the MLP (last column), one row per layer",
            font_size=18,
            color=GREY_B,
        ).next_to(panels, UP)
        self.play(FadeIn(legend))
        for p in panels:
            self.play(FadeIn(p), run_time=0.8)
        rings = VGroup(
            *[
                Circle(radius=side * 0.55, color=OUTPUT, stroke_width=4).move_to(d)
                for p in panels
                for d in p[0]
                if d.component in shared
            ]
        )
        alone = ", ".join(f"{t} {v:.0%}" for t, v in n["shared_alone"].items())
        summary = Text(
            f"shared: {cd.format_circuit(shared)}\nalone it keeps {alone}",
            font_size=22,
            color=OUTPUT,
            line_spacing=0.8,
        ).to_edge(DOWN, buff=0.25)
        self.play(Create(rings), FadeIn(summary), run_time=1.2)
        self.wait(1.5)
