"""Lesson 04's video: the circuit that continues sequences, and the part the tasks share.

The story: the task, where the answer appears (logit lens, patching), the heads
that move the last member and map it to its successor, the sub-circuit the
three tasks share, an edit fitted on numerals alone and tested on all three
formats, and "One is 1": whether 5, five and May share a value code, on the
course's model and on its twin trained on one format per story.

Every number is computed here with the `neuralcircuits` library on the model
the lesson uses (``load_model("auto")``: GPT-2 small if its weights are on
this machine, else toy-seq), with the lesson's prompts and functions, so the
video follows the model when it is retrained. The narration beside each
animation is the video's script; where it states a finding, it reads it from
those numbers.
Render: make video-04_sequence_continuation_circuits QUALITY=low|high
"""

import functools

import torch
from manim import *
from style import *

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import (
    hand_built_transformer,
    representations,
    sequences,
    surgery,
)
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science.models import load_model, model_name

TASK_COLOURS = {"numerals": POSITIVE, "number_words": HIGHLIGHT, "months": GOOD}
TASK_WORDS = {
    "numerals": "numerals",
    "number_words": "number words",
    "months": "months",
}


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
    out["lens"] = {t: study.lens_summary(model, d.clean) for t, d in data.items()}
    out["attention"] = {
        t: roles.attention_to_members(model, d.clean) for t, d in data.items()
    }
    out["kept"] = {
        t: study.answer_kept_when_earlier_members_change(model, d.clean)
        for t, d in data.items()
    }
    out["patched"] = {
        t: study.patching_results(model, d, progress=False) for t, d in data.items()
    }
    ids = {t: sequences.member_token_ids(model.tokenizer, t) for t in data}
    resid = {t: roles.ov_inputs(model, [d.clean, d.random]) for t, d in data.items()}
    out["resid"] = resid
    out["ov"] = {t: roles.ov_successor_scores(model, resid[t], ids[t]) for t in data}
    setups = {t: cd.ablation_setup(model, d.clean, d.random) for t, d in data.items()}
    out["found"] = {
        t: cd.prune_circuit(model, s, progress=False) for t, s in setups.items()
    }
    out["shared"] = cd.circuit_overlap({t: r.circuit for t, r in out["found"].items()})
    out["shared_alone"] = {
        t: cd.circuit_performance(model, s, out["shared"]) for t, s in setups.items()
    }
    out["ov_members"] = {
        t: roles.ov_successor_scores(model, resid[t], ids[t], among_members=True)
        for t in data
    }
    # Sections 9 and 10 of the lesson, on the lesson's model and its contrasts:
    # an edit fitted on numerals alone (the heads that carry the last member),
    # and value-subspace patching from numerals into the other formats.
    contrasts = {"hand-built": hand_built_transformer.build(), out["name"]: model}
    contrasts["toy-seq-separate"] = load_model("toy-seq-separate", verbose=False)
    out["transfer"], out["subspace"] = {}, {}
    for label, m in contrasts.items():
        d = data if m is model else study.build_task_data(m)[0]
        heads = (
            [hand_built_transformer.MOVER]
            if label == "hand-built"
            else roles.carriers(m, d)
        )
        if m is model:
            out["movers"] = heads
        edit = surgery.fit_member_shift(
            m, heads, [d["numerals"].clean, d["numerals"].random], shift=-2
        )
        fresh, _ = study.build_task_data(m, seed=7)
        out["transfer"][label] = {
            t: surgery.sequence_effect(m, edit, fresh[t].clean)["shifted_after"]
            for t in data
        }
        layer = roles.strongest_carrier(m, d).layer
        basis = representations.value_subspace(
            representations.member_streams(m, d)[layer, 0]
        )
        out["subspace"][label] = {
            t: representations.subspace_patch_effect(
                m, d["numerals"].clean, d[t].clean, layer, basis
            )["source"]
            for t in data
        }
    return out


def token_text(model, token) -> str:
    return model.tokenizer.decode([int(token)]).strip()


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _component_words(components) -> str:
    """Components as the narration says them: "head 0.3", "the MLP of layer 1"."""
    return _list(
        [
            f"head {c.layer}.{c.head}"
            if c.kind == "head"
            else f"the MLP of layer {c.layer}"
            for c in cd.sort_components(components)
        ]
    )


class TheTask(NarratedScene):
    """The task: continue the sequence."""

    def construct(self):
        n = numbers()
        self.next_section("prompts")
        with self.voiceover(
            text="How does a transformer continue a sequence? Give it one two three four, "
            "and it says five. Give it January, February, March, and it says April. Lan, "
            "Torr and Barez found the circuits that do this in GPT-2 small, and found "
            "that numerals, number words and months share part of them. In this video we "
            f"follow their method on the lesson's model, {n['name']}."
        ):
            examples = (
                VGroup(
                    *[
                        VGroup(
                            Text(" ".join(sequences.members(t)[:4]), font_size=28),
                            Text("→", font_size=28, color=GREY_B),
                            Text(
                                sequences.members(t)[4],
                                font_size=28,
                                color=TASK_COLOURS[t],
                                weight=BOLD,
                            ),
                        ).arrange(RIGHT, buff=0.3)
                        for t in n["data"]
                    ]
                )
                .arrange(DOWN, buff=0.5)
                .shift(DOWN * 0.4)
            )
            title_card(
                self,
                "Continue the sequence",
                f"three tasks, one model ({n['name']})",
                LaggedStart(*[FadeIn(e) for e in examples], lag_ratio=0.5),
                run_time=2,
            )
        rows = VGroup()
        for task, d in n["data"].items():
            words = d.clean.prompts[0].split()
            prompt = Text("... " + " ".join(words[-10:]), font_size=22, color=TEXT)
            answer = Text(
                d.clean.answer_members[0],
                font_size=26,
                color=TASK_COLOURS[task],
                weight=BOLD,
            )
            ld = Text(
                f"logit diff {n['logit_diff'][task]:.1f}", font_size=20, color=GREY_B
            )
            rows.add(VGroup(prompt, answer, ld).arrange(RIGHT, buff=0.35))
        rows.arrange(DOWN, aligned_edge=LEFT, buff=0.6).shift(DOWN * 0.4)
        fit_width(rows)
        with self.voiceover(
            text="Every prompt is a short story with four members of a sequence in it, "
            "and the model must give the fifth: here one prompt from each of the three "
            "tasks, and the answer the model gives."
        ):
            self.play(FadeOut(examples), FadeIn(rows[0][0]), Write(rows[0][1]))
            for row in rows[1:]:
                self.play(FadeIn(row[0]), Write(row[1]), run_time=0.9)

        self.next_section("metric")
        note = Text(
            "metric: logit(next member) - logit(last member repeated)",
            font_size=22,
            color=GREY_B,
        ).to_edge(DOWN, buff=0.5)
        fit_width(note)
        lds = [n["logit_diff"][t] for t in n["data"]]
        with self.voiceover(
            text="We measure how sure it is with a logit difference: the score of the "
            "right next member minus the score of repeating the last one. Averaged over "
            f"the prompts it is between {min(lds):.0f} and {max(lds):.0f} for the three "
            "tasks. Every experiment that follows asks how much of that difference a "
            "part of the model is responsible for."
        ):
            self.play(FadeIn(note), *[FadeIn(row[2]) for row in rows])


class WhereTheAnswerAppears(NarratedScene):
    """Where the answer appears."""

    def construct(self):
        n = numbers()
        n_layers = n["model"].cfg.n_layers
        axes = Axes(
            x_range=[0, n_layers, 1],
            y_range=[0, 1, 0.5],
            x_length=6.5,
            y_length=3.6,
            tips=False,
            axis_config={"include_numbers": True, "font_size": 22, "color": GREY_B},
        )
        axes.shift(LEFT * 1.6 + DOWN * 0.6)
        x_label = Text("after layer (0 = embedding)", font_size=18, color=GREY_B)
        x_label.next_to(axes, DOWN, buff=0.35)
        y_label = Text("answer on top", font_size=18, color=GREY_B).rotate(PI / 2)
        y_label.next_to(axes, LEFT, buff=0.45)
        curves, legend = VGroup(), VGroup()
        for task, lens in n["lens"].items():
            values = lens["answer_top1"].tolist()
            curves.add(
                axes.plot_line_graph(
                    list(range(len(values))),
                    values,
                    line_color=TASK_COLOURS[task],
                    vertex_dot_radius=0.06,
                    vertex_dot_style={"color": TASK_COLOURS[task]},
                )
            )
            legend.add(Text(TASK_WORDS[task], font_size=20, color=TASK_COLOURS[task]))
        legend.arrange(DOWN, aligned_edge=LEFT).next_to(axes, RIGHT, buff=0.6)
        first = {
            t: next(
                (k for k, v in enumerate(lens["answer_top1"].tolist()) if v > 0.5), None
            )
            for t, lens in n["lens"].items()
        }
        where = sorted({v for v in first.values() if v is not None})
        when = ("after layer " + _list([str(w) for w in where])) if where else "nowhere"
        self.next_section("lens")
        with self.voiceover(
            text="First: where in the model does the answer appear? The logit lens reads "
            "the residual stream at the last position after every layer, as if the model "
            "stopped there, and asks how often the answer is already the top prediction."
        ):
            title_card(
                self,
                "Where the answer appears",
                "the logit lens at the final position",
                Create(axes),
                FadeIn(x_label),
                FadeIn(y_label),
                run_time=1.5,
            )
        with self.voiceover(
            text="Here is that share for each task, layer by layer. The answer becomes the "
            f"top prediction for most prompts {when}: before that, the model has not "
            "yet worked it out."
        ):
            self.play(*[Create(c) for c in curves], FadeIn(legend), run_time=2)

        self.next_section("patching")
        cfg = n["model"].cfg
        grids = VGroup()
        side = min(0.8, 3.4 / max(cfg.n_heads, cfg.n_layers))
        best_heads = {}
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
                    cells.add(sq.move_to(RIGHT * h * side + DOWN * L * side))
            best = roles.top_heads(scores, 1)[0]
            best_heads[task] = best
            label = Text(
                f"{TASK_WORDS[task]}\nbest {best[0]}: {best[1]:.2f}",
                font_size=20,
                color=TASK_COLOURS[task],
                line_spacing=0.8,
            )
            grids.add(VGroup(cells, label.next_to(cells, DOWN)))
        grids.arrange(RIGHT, buff=0.9).shift(DOWN * 0.5)
        fit_width(grids)
        axis = Text("heads →, layers ↓", font_size=18, color=GREY_B).next_to(grids, UP)
        names = sorted({b[0] for b in best_heads.values()})
        same = len(names) == 1
        with self.voiceover(
            text="Which components carry it? Activation patching runs the model on a "
            "corrupted prompt, where one member is repeated all along, and copies in one head's "
            "output from the clean run. If the answer comes back, that head matters. One "
            "square per head, one grid per task."
        ):
            title_card(
                self,
                "Activation patching, head by head",
                "share of the clean answer restored (blue)",
                FadeIn(axis),
                LaggedStart(*[FadeIn(c) for c in grids[0][0]], lag_ratio=0.02),
                replace=True,
            )
            for g in grids[1:]:
                self.play(
                    LaggedStart(*[FadeIn(c) for c in g[0]], lag_ratio=0.02),
                    run_time=0.8,
                )
        with self.voiceover(
            text=(
                "In all three tasks the same head stands out: head " + names[0] + "."
                if same
                else "The heads that stand out are " + _list(names) + "."
            )
            + (
                " Patched alone, it brings back "
                if same
                else " Patched alone, the best head of each task brings back "
            )
            + _list([f"{best_heads[t][1]:.0%}" for t in n["patched"]])
            + " of the clean answer, for "
            + _list([TASK_WORDS[t] for t in n["patched"]])
            + "."
        ):
            self.play(*[FadeIn(g[1]) for g in grids])


class AttentionCarriesTheLastMember(NarratedScene):
    """A head moves the last member."""

    def construct(self):
        n = numbers()
        model, task = n["model"], "months"
        att = n["attention"][task][..., -1]  # [L, H]
        head = roles.top_heads(att, 1)[0][0]
        layer, h = (int(x) for x in head.split("."))
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
        labels.arrange(RIGHT, buff=0.13)
        fit_width(labels).shift(DOWN * 1.9)
        bars = VGroup()
        for label, w in zip(labels, weights.tolist(), strict=True):
            bar = Rectangle(
                width=0.22,
                height=max(3.0 * w, 0.02),
                stroke_width=0,
                fill_color=OUTPUT,
                fill_opacity=0.9,
            )
            bars.add(bar.next_to(label, UP, buff=0.12))
        last = max(members)
        arrow = CurvedArrow(
            labels[last].get_bottom() + DOWN * 0.1,
            labels[-1].get_bottom() + DOWN * 0.1,
            angle=PI / 3,
            color=HIGHLIGHT,
        )
        share = Text(
            f"{float(att[layer, h]):.0%} of its attention on the last member, "
            "averaged over prompts",
            font_size=22,
            color=HIGHLIGHT,
        )
        fit_width(share).to_edge(DOWN, buff=0.3)
        self.next_section("pattern")
        with self.voiceover(
            text="What does such a head do? Look at its attention from the final "
            "position, where the prediction is made, on a months prompt."
        ):
            title_card(
                self,
                f"Head {head} carries the last member",
                "attention from the final position",
                FadeIn(labels),
            )
        with self.voiceover(
            text=f"Head {head} puts {float(att[layer, h]):.0%} of its attention, averaged "
            "over the prompts, on the last member of the sequence. It reads that member "
            "and moves it to the final position."
        ):
            self.play(
                LaggedStart(*[GrowFromEdge(b, DOWN) for b in bars], lag_ratio=0.03),
                run_time=1.5,
            )
            self.play(Create(arrow), FadeIn(share))

        self.next_section("only the last")
        kept = n["kept"]
        with self.voiceover(
            text="Is the last member all the model needs? Replace the three members before "
            "it with random other members, keep the last, and the model's answer stays "
            "the same for "
            + _list([f"{kept[t]:.0%}" for t in kept])
            + " of the prompts, "
            "for " + _list([TASK_WORDS[t] for t in kept]) + ". The answer is the "
            "successor of the last member, not the continuation of a pattern."
        ):
            self.play(
                Indicate(labels[last], color=HIGHLIGHT, scale_factor=1.5), run_time=1.5
            )


class TheSuccessorMapping(NarratedScene):
    """Last member in, successor out."""

    def construct(self):
        n = numbers()
        model = n["model"]
        columns = VGroup()
        right_counts = {}
        for task, d in n["data"].items():
            ids = sequences.member_token_ids(model.tokenizer, task)
            pairs = {}
            for ds in (d.clean, d.random):
                top = sequences.last_logits(model, ds.tokens).argmax(-1)
                for last, t in zip(
                    ds.member_ids[:, -1].tolist(), top.tolist(), strict=True
                ):
                    pairs.setdefault(last, []).append(t)
            rows = VGroup()
            right_counts[task] = [0, 0]
            for m in sorted(pairs)[:11]:
                answer = max(set(pairs[m]), key=pairs[m].count)
                right = answer == int(ids[m + 1]) if m + 1 < 12 else False
                right_counts[task][0] += right
                right_counts[task][1] += 1
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
        columns.arrange(RIGHT, buff=1.0, aligned_edge=UP)
        columns.scale_to_fit_height(min(columns.height, 5.3)).next_to(
            ORIGIN, DOWN, buff=-2.4
        )
        fit_width(columns)
        summary = _list([f"{r} of {t}" for r, t in right_counts.values()])
        self.next_section("mapping")
        with self.voiceover(
            text="Then something must map the member to the next one. Feed the model every "
            "last member and read its top answer."
        ):
            title_card(
                self,
                "Last member in, successor out",
                "the model's top answer, per last member",
                *[FadeIn(VGroup(*[r[0] for r in col])) for col in columns],
            )
        with self.voiceover(
            text=f"Green arrows are right: {summary} members map to their successor, for "
            "numerals, number words and months. The model has a successor table for each "
            "task."
        ):
            for col in columns:
                self.play(
                    LaggedStart(*[FadeIn(r[1:]) for r in col], lag_ratio=0.1),
                    run_time=1.2,
                )

        self.next_section("ov")
        ov = n["ov_members"]
        mean_ov = torch.stack(list(ov.values())).mean(0)
        best, _ = roles.top_heads(mean_ov, 1)[0]
        L, h = (int(x) for x in best.split("."))
        scores = [f"{ov[t][L, h]:.0%}" for t in ov]
        note = Text(
            f"head {best}: successor first among 12 members for "
            + ", ".join(scores)
            + " (chance 8%)",
            font_size=22,
            color=OUTPUT,
        )
        top = roles.ov_top_tokens(model, L, h, n["resid"]["numerals"], k=1)[:, 0]
        written = Text(
            "what it writes for "
            + "  ".join(
                f"{m}→{token_text(model, t)}"
                for m, t in list(
                    zip(sequences.members("numerals"), top.tolist(), strict=True)
                )[2:6]
            ),
            font_size=22,
            color=GREY_B,
        )
        notes = VGroup(note, written).arrange(DOWN, buff=0.15)
        fit_width(notes).to_edge(DOWN, buff=0.3)
        with self.voiceover(
            text="Where does the table live? Gould and colleagues found successor heads in "
            "GPT-2: heads whose output-value circuit, applied to a member, writes its "
            "successor. Scoring every head that way, against a chance of one in twelve, "
            f"the best here is head {best}: for {_list(scores)} of the members, the "
            "successor is the first of the twelve in what it writes."
        ):
            self.play(FadeIn(note))
        with self.voiceover(
            text="And look at what it writes: the next value, in whichever format "
            "wins. Three becomes 4, four becomes five. It moves the value, not the "
            "format; other parts of the model supply the format."
        ):
            self.play(FadeIn(written))


class TheSharedCircuit(NarratedScene):
    """Three circuits, one shared core."""

    def construct(self):
        n = numbers()
        cfg = n["model"].cfg
        comps = cd.all_components(n["model"])
        side = min(0.75, 3.0 / max(cfg.n_heads + 1, cfg.n_layers))
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
                f"{TASK_WORDS[task]}\nkeeps {result.performance:.0%}",
                font_size=20,
                color=TASK_COLOURS[task],
                line_spacing=0.8,
            ).next_to(nodes, DOWN)
            panels.add(VGroup(nodes, label))
        panels.arrange(RIGHT, buff=1.0).shift(DOWN * 0.3)
        fit_width(panels)
        legend = Text(
            "heads, then the MLP (last column), one row per layer",
            font_size=18,
            color=GREY_B,
        ).next_to(panels, UP)
        sizes = [len(r.circuit) for r in n["found"].values()]
        # before pruning: every component of the model, in each task's grid
        everything = VGroup(
            *[p[0].copy().set_fill(opacity=0).set_stroke(GREY_B) for p in panels]
        )
        self.next_section("pruning")
        with self.voiceover(
            text="Now find each task's whole circuit. Iterative pruning, as in the paper, "
            "mean-ablates components one at a time and drops each one the task can do "
            "without, while the rest keeps at least 80 percent of the logit difference."
        ):
            title_card(
                self,
                "Three circuits, one shared core",
                "iterative pruning at threshold 0.8",
                FadeIn(legend),
                FadeIn(everything),
            )
        with self.voiceover(
            text="Here are the three circuits: filled circles are kept. They have "
            + _list([str(s) for s in sizes])
            + " components, out of "
            + f"{len(comps)}, and each keeps at least 80 percent of its task."
        ):
            for p, before in zip(panels, everything, strict=True):
                self.play(
                    ReplacementTransform(before, p[0]), FadeIn(p[1]), run_time=0.8
                )

        self.next_section("shared")
        rings = VGroup(
            *[
                Circle(radius=side * 0.55, color=OUTPUT, stroke_width=4).move_to(d)
                for p in panels
                for d in p[0]
                if d.component in shared
            ]
        )
        alone = ", ".join(
            f"{TASK_WORDS[t]} {v:.0%}" for t, v in n["shared_alone"].items()
        )
        summary = Text(
            f"shared: {cd.format_circuit(shared)}\nalone it keeps {alone}",
            font_size=22,
            color=OUTPUT,
            line_spacing=0.8,
        )
        fit_width(summary).to_edge(DOWN, buff=0.3)
        identical = len({frozenset(r.circuit) for r in n["found"].values()}) == 1
        with self.voiceover(
            text=(
                "The three circuits are identical here: "
                if identical
                else "The circuits overlap without being identical. What they share is "
            )
            + f"{_component_words(shared)}, ringed in yellow. Run alone, with everything "
            "else mean-ablated, the shared part keeps "
            + _list([f"{v:.0%}" for v in n["shared_alone"].values()])
            + " of the three tasks. One piece of machinery, reused for numerals, number "
            "words and months."
        ):
            self.play(Create(rings), FadeIn(summary), run_time=1.2)


class TheEdit(NarratedScene):
    """An edit fitted on numerals alone, tested on all three formats."""

    def construct(self):
        n = numbers()
        table = n["transfer"]  # table[model][tested task]: predecessor on top
        labels = list(table)
        tasks = list(next(iter(table.values())))
        cell_w, cell_h = 2.1, 0.9
        grid = VGroup()
        for i, label in enumerate(labels):
            for j, tested in enumerate(tasks):
                v = table[label][tested]
                box = Rectangle(
                    width=cell_w,
                    height=cell_h,
                    stroke_width=1,
                    stroke_color=GREY_B,
                    fill_color=interpolate_color(BLACK, GOOD, v),
                    fill_opacity=1,
                )
                box.move_to(RIGHT * j * cell_w + DOWN * i * cell_h)
                grid.add(VGroup(box, Text(f"{v:.0%}", font_size=24).move_to(box)))
        rows = VGroup(
            *[
                Text(label, font_size=20, color=TEXT).next_to(
                    grid[len(tasks) * i], LEFT, buff=0.3
                )
                for i, label in enumerate(labels)
            ]
        )
        cols = VGroup(
            *[
                Text(
                    f"tested on\n{TASK_WORDS[t]}",
                    font_size=20,
                    line_spacing=0.8,
                    color=TASK_COLOURS[t],
                ).next_to(grid[j], UP, buff=0.25)
                for j, t in enumerate(tasks)
            ]
        )
        chart = VGroup(grid, rows, cols).move_to(DOWN * 0.7)
        fit_width(chart)
        empty = VGroup(*[cell[0].copy().set_fill(opacity=0) for cell in grid])
        self.next_section("edit")
        with self.voiceover(
            text="If the tasks share machinery, does an edit made for one task change the "
            "others? Take the heads that carry the last member, "
            + _component_words(n["movers"])
            + ", and for every member replace what they carry with the member two places "
            "earlier. If the model answers the successor of what these heads carry, it "
            "will now answer the predecessor of the last member. We measure the edit on "
            "numerals alone, and test it on new prompts of all three formats."
        ):
            title_card(
                self,
                "An edit fitted on numerals alone",
                "predecessor on top after the edit, on new prompts",
                FadeIn(empty),
                FadeIn(rows),
                FadeIn(cols),
                run_time=1.5,
            )
        hand, ours = labels[0], labels[1]
        with self.voiceover(
            text="First the hand-built transformer, whose mover carries a member's index "
            "in dimensions the three formats share: the edit moves "
            + _list([f"{table[hand][t]:.0%}" for t in tasks])
            + " of the prompts."
        ):
            self.play(FadeIn(VGroup(*grid[: len(tasks)])), run_time=1.2)
        moved = min(table[ours][t] for t in tasks[1:])
        with self.voiceover(
            text=f"Then {ours}: the numerals' edit moves "
            + _list([f"{table[ours][t]:.0%}" for t in tasks])
            + (
                " of the prompts. Measured on numerals only, it works on number words "
                "and months too: the carriers hold five and May the way they hold 5."
                if moved >= 0.5
                else " of the prompts: it does not carry over to the other formats."
            )
        ):
            self.play(FadeIn(VGroup(*grid[len(tasks) : 2 * len(tasks)])), run_time=1.2)
        if len(labels) > 2:
            other = labels[-1]
            with self.voiceover(
                text=f"And {other}, the same design trained on one format per story: "
                + _list([f"{table[other][t]:.0%}" for t in tasks])
                + ". It moves its numerals, and nothing else."
            ):
                self.play(FadeIn(VGroup(*grid[2 * len(tasks) :])), run_time=1.2)
        self.wait(0.5)


class OneIsOne(NarratedScene):
    """One is 1: a value code shared by the formats, and what in the data makes it."""

    def construct(self):
        n = numbers()
        results = n["subspace"]  # results[model][task]: numeral's successor answered
        labels = list(results)
        tasks = list(next(iter(results.values())))[1:]  # into words and months
        stories = VGroup(
            Text(
                "mixed stories:  ... in 3. ... in four. ... in May. ... in  →  6",
                font_size=22,
                color=TEXT,
            ),
            Text(
                "one format per story:  ... in three. ... in four. ... in five. ... "
                "in  →  six",
                font_size=22,
                color=GREY_B,
            ),
        ).arrange(DOWN, buff=0.2, aligned_edge=LEFT)
        fit_width(stories).next_to(ORIGIN, UP, buff=1.2)
        bar_w, max_h = 0.55, 2.2
        groups = VGroup()
        for label in labels:
            bars = VGroup()
            for task in tasks:
                v = results[label][task]
                bar = Rectangle(
                    width=bar_w,
                    height=max(max_h * v, 0.03),
                    stroke_width=0,
                    fill_color=TASK_COLOURS[task],
                    fill_opacity=0.9,
                )
                value = Text(f"{v:.0%}", font_size=18).next_to(bar, UP, buff=0.08)
                bars.add(VGroup(bar, value))
            bars.arrange(RIGHT, buff=0.15, aligned_edge=DOWN)
            name = Text(label, font_size=20).next_to(bars, DOWN, buff=0.2)
            groups.add(VGroup(bars, name))
        groups.arrange(RIGHT, buff=1.2, aligned_edge=DOWN).to_edge(DOWN, buff=0.5)
        fit_width(groups)
        legend = Text(
            "answers the numeral's successor, after patching the numerals' value "
            "directions into: " + " | ".join(TASK_WORDS[t] for t in tasks),
            font_size=18,
            color=GREY_B,
        )
        fit_width(legend).next_to(groups, UP, buff=0.4)
        self.next_section("training data")
        with self.voiceover(
            text="Why would a model code 5, five and May alike? The course's model, "
            "toy-seq, read stories where the formats meet: the members change format, "
            "and the answer takes the format of the first one. Its twin, "
            "toy-seq-separate, read one format per story."
        ):
            title_card(
                self, "One is 1", "a value code shared by the formats?", FadeIn(stories)
            )
        with self.voiceover(
            text="The test: find, from numerals alone, the few directions along which "
            "the twelve numerals differ. Patch only those directions of the last member "
            "from a numerals prompt into a number-words or months prompt. If the code is "
            "shared, the model now answers the numeral's successor, in the other format."
        ):
            self.play(FadeIn(legend), FadeIn(VGroup(*[g[1] for g in groups])))
        words = []
        for label in labels:
            words.append(
                f"{label} {_list([f'{results[label][t]:.0%}' for t in tasks])}"
            )
        with self.voiceover(
            text="The answers: "
            + "; ".join(words)
            + ". The hand-built transformer shares its code by construction; toy-seq "
            "learned to share it, because its stories made one value code the cheap "
            "solution; toy-seq-separate never needed to, and did not. Same design, "
            "different data. The notebook runs every test of this, with its controls, on "
            "toy-seq or on GPT-2 small."
        ):
            for g in groups:
                self.play(
                    LaggedStart(
                        *[GrowFromEdge(b[0], DOWN) for b in g[0]], lag_ratio=0.2
                    ),
                    FadeIn(VGroup(*[b[1] for b in g[0]])),
                    run_time=1.0,
                )
        self.wait(0.5)
