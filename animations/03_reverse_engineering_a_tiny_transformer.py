"""Lesson 03's video: a tiny transformer read from its weights, and two heads that compose.

The story: the direct path of a one-layer attention-only model is a table of
bigrams; one head's QK circuit finds the last member (a "member" score plus a
"recent" score) and its OV circuit adds one; a previous-token head and an
induction head compose, and the composition shows in the weights.

Every number is computed here with the `neuralcircuits` library, on the
model and the heads the notebook uses (``attention_only``, ``induction``),
so the video follows the model if it is retrained. The narration beside each
animation is the video's script.
Render: make video-03_reverse_engineering_a_tiny_transformer QUALITY=low|high
"""

import functools
import itertools
import math

import torch
from manim import *
from style import *

from neuralcircuits.science import attention_only as aot
from neuralcircuits.science import induction as ind

HEAD = 0  # the trained model's successor head (tests/test_lesson03_facts.py)
SHOWN_FROM = 11  # the story's tokens drawn from this position on
TOKEN_COLOUR = POSITIVE  # "what the key is", as in the notebook's figure
POSITION_COLOUR = NEGATIVE  # "where the key is"


@functools.lru_cache(maxsize=1)
def numbers():
    """Everything the scenes draw, computed once per render."""
    model = aot.load()
    w = aot.weights(model)
    tok = aot.tokenizer()
    stream = aot.corpus()
    story = aot.story_tokens(aot.STORY, tok)
    words = tok.convert_ids_to_tokens(story[0].tolist())
    logits, patterns = aot.forward(w, story)
    direct = aot.direct_path(w)
    bigrams = aot.bigram_log_probs(stream, len(tok))
    r, measured, path = aot.bigram_agreement(direct, stream)
    windows = aot.corpus(seed=1, n_tokens=256 * 32).reshape(256, 32)
    token_part, position_part = aot.qk_parts(w, HEAD, story)
    total = token_part + position_part
    last = words.index("6")
    runner_up = total[torch.arange(len(words)) != last].max()
    ov_row = aot.full_ov(w, HEAD)[tok.convert_tokens_to_ids("6")]
    letters = ind.repeated_sequences(n=32, length=10, seed=0)
    prev, head = ind.previous_token_head(), ind.induction_head()
    return {
        "tok": tok,
        "words": words,
        "answer": tok.convert_ids_to_tokens(int(logits[0, -1].argmax())),
        "p_answer": float(logits[0, -1].softmax(-1).max()),
        "pattern": patterns[0, HEAD, -1],
        "direct": direct,
        "bigrams": bigrams,
        "r": r,
        "measured": measured,
        "path": path,
        "losses": aot.losses_by_kind(w, windows, stream),
        "token_part": token_part,
        "position_part": position_part,
        "last": last,
        "lead": float(total[last] - runner_up),
        "ov_numerals": aot.ov_on_members(w, HEAD, tok)[:12, :12],
        "ov_row": ov_row,
        "successors": aot.successor_map(w, HEAD, tok),
        "letters": letters,
        "induction": ind.score_induction(prev, head, letters),
        "composition": ind.composition_scores(prev, head),
        "baseline": ind.random_baseline(n=200),
    }


def spoken_number(value: float, digits: int = 1) -> str:
    """A score as the narration reads it: "minus 16.7", "10"."""
    text = f"{abs(value):.{digits}f}".rstrip("0").rstrip(".")
    return ("minus " if value < 0 else "") + text


def note(text: str, size: int = 20, colour=GREY_B) -> Text:
    """A small label in the given colour (grey by default)."""
    return Text(text, font_size=size, color=colour)


def box(label: str, width: float = 2.2, colour=GREY_B) -> VGroup:
    """A labelled box of the model diagram."""
    frame = RoundedRectangle(corner_radius=0.12, width=width, height=1.0, color=colour)
    return VGroup(frame.set_stroke(width=2), note(label, 22, TEXT).move_to(frame))


def token_row(words, font_size: int = 22, buff: float = 0.16) -> VGroup:
    """Tokens in a row, each a Text, evenly spaced by their centres."""
    row = VGroup(*[note(w, font_size, TEXT) for w in words])
    step = max(t.width for t in row) + buff
    return row.arrange_in_grid(rows=1, buff=0, col_widths=[step] * len(row))


def arc(a, b, weight: float, colour) -> VMobject:
    """An arc from token a up and over to token b, as opaque as the attention."""
    start, end = a.get_top() + UP * 0.08, b.get_top() + UP * 0.08
    angle = PI / 2 if end[0] < start[0] else -PI / 2  # counterclockwise: over the top
    line = ArcBetweenPoints(start, end, angle=angle, color=colour)
    return line.set_stroke(width=2 + 5 * weight, opacity=max(0.15, weight))


def scatter_frame(x_range, y_range, width: float, height: float):
    """A plot frame with its axes on the left and bottom edges, and a map to it."""
    (x0, x1), (y0, y1) = x_range, y_range

    def to_point(x: float, y: float):
        return np.array(
            [(x - x0) / (x1 - x0) * width, (y - y0) / (y1 - y0) * height, 0]
        )

    frame = VGroup(
        Line(to_point(x0, y0), to_point(x1, y0), color=GREY_B),
        Line(to_point(x0, y0), to_point(x0, y1), color=GREY_B),
    )
    for x in range(int(x0), int(x1) + 1):
        frame.add(note(str(x), 18).next_to(to_point(x, y0), DOWN, buff=0.12))
    for y in range(int(y0), int(y1) + 1):
        frame.add(note(str(y), 18).next_to(to_point(x0, y), LEFT, buff=0.12))
    return frame, to_point


class DirectPath(NarratedScene):
    """The direct path: a table of bigrams."""

    def construct(self):
        n = numbers()
        self.next_section("model")
        heading = title_card(self, "A transformer you can read whole")
        chain = VGroup(
            box("Sun was done in", 2.6),
            box("embed", 1.7),
            box("residual stream", 2.6, POSITIVE),
            box("unembed", 1.9),
            box(f"next: {n['answer']}", 1.7, OUTPUT),
        ).arrange(RIGHT, buff=0.45)
        embed, stream, unembed = chain[1:4]
        fit_width(chain).shift(DOWN * 0.4)
        arrows = VGroup(
            *[
                Arrow(a.get_right(), b.get_left(), buff=0.05, stroke_width=3)
                for a, b in itertools.pairwise(chain)
            ]
        )
        heads = box("4 attention heads", 3.0, HIGHLIGHT).next_to(stream, UP, buff=0.8)
        loop = VGroup(
            Arrow(stream.get_top() + LEFT * 0.6, heads.get_bottom() + LEFT * 0.6),
            Arrow(heads.get_bottom() + RIGHT * 0.6, stream.get_top() + RIGHT * 0.6),
        )
        loop[1].set_color(HIGHLIGHT)
        with self.voiceover(
            text="This video reads a transformer small enough to read whole: one layer "
            "of four attention heads and nothing else, trained on the stories of "
            "lesson four, such as: Van was done in three, Hat was done in four. Each "
            "token becomes a vector, the residual stream. Each head reads the stream and "
            "adds to it. The unembedding turns the sum into a score for every possible "
            "next token."
        ) as tracker:
            self.play(
                LaggedStart(*[FadeIn(m) for m in chain], lag_ratio=0.3),
                Create(arrows),
                run_time=min(4, tracker.duration / 2),
            )
            self.play(FadeIn(heads), Create(loop), run_time=1.5)

        self.next_section("direct path")
        bypass = CurvedArrow(
            embed.get_bottom() + DOWN * 0.05,
            unembed.get_bottom() + DOWN * 0.05,
            angle=PI / 2.5,
            color=OUTPUT,
            stroke_width=5,
        )
        label = MathTex(
            r"\text{direct path: } W_E W_U", font_size=BODY_SIZE, color=OUTPUT
        ).next_to(bypass, DOWN, buff=0.15)
        with self.voiceover(
            text="Now follow one path: skip the heads, and go from the token straight to "
            "the unembedding. That path is one matrix, the embedding times the "
            "unembedding, a table with a row for each current token and a score for "
            "each next token. Elhage and colleagues call it the direct path. It can only "
            "say what the current token alone says about the next one: it is a table of "
            "bigram statistics."
        ):
            self.play(Create(bypass), Write(label), run_time=2)
            self.play(Indicate(label, color=HIGHLIGHT))

        self.next_section("table")
        tok = n["tok"]
        cells = [note("current", 22), note("direct path's top 3", 22, OUTPUT)]
        cells.append(note("corpus's top", 22))
        for current in ["Desk", "was", "done", "in", "5", "."]:
            row = tok.convert_tokens_to_ids(current)
            top = tok.convert_ids_to_tokens(n["direct"][row].topk(3).indices.tolist())
            seen = tok.convert_ids_to_tokens(int(n["bigrams"][row].argmax()))
            cells += [note(repr(t), 24, TEXT) for t in (current, "", seen)]
            cells[-2] = note(", ".join(repr(t) for t in top), 24, TEXT)
        table = VGroup(*cells).arrange_in_grid(
            rows=7, cols=3, buff=(0.9, 0.22), col_alignments="lcl"
        )
        table.next_to(label.copy().next_to(heading, DOWN, buff=0.25), DOWN, buff=0.4)
        frame = VGroup(*cells[:3], *cells[3::3])  # the headers and the current tokens
        self.play(
            FadeOut(VGroup(chain, arrows, heads, loop, bypass)),
            label.animate.next_to(heading, DOWN, buff=0.25),
            FadeIn(frame),
        )
        rest = [c for c in cells if c not in frame]
        with self.voiceover(
            text="Here are its three favourite next tokens for six current tokens, beside "
            "the most frequent one in the corpus. After Desk, was. After was, a verb: "
            "done, born or lost. After in, a member. And after a full stop, most often "
            "the start of a new story."
        ) as tracker:
            self.play(
                LaggedStart(*[FadeIn(c) for c in rest], lag_ratio=0.05),
                run_time=min(4, tracker.duration),
            )

        self.next_section("correlation")
        self.play(FadeOut(table))
        axes, to_point = scatter_frame((-6, 0), (-6, -1), 6.4, 3.8)
        shift = DOWN * 2.7 + LEFT * 4.6
        axes.shift(shift)
        x_label = note("log p(next | current), counted").next_to(axes, DOWN, 0.2)
        y_label = note("direct path").rotate(PI / 2).next_to(axes, LEFT, buff=0.2)
        dots = VGroup(
            *[
                Dot(to_point(float(x), float(y)) + shift, radius=0.03, color=POSITIVE)
                for x, y in zip(n["measured"], n["path"], strict=True)
            ]
        )
        r_text = note(f"r = {n['r']:.2f}", 30, OUTPUT).next_to(axes, RIGHT, buff=0.5)
        with self.voiceover(
            text=f"Over all {len(n['measured'])} bigrams that occur in the corpus, the "
            "direct path's scores and the measured log probabilities rise together: the "
            f"correlation is {n['r']:.2f}. Training has written the corpus's bigram "
            "table into two matrices."
        ) as tracker:
            self.play(Create(axes), FadeIn(x_label), FadeIn(y_label), run_time=1.2)
            self.play(
                LaggedStart(*[FadeIn(d) for d in dots], lag_ratio=0.002),
                run_time=min(3, tracker.duration / 2),
            )
            self.play(FadeIn(r_text))

        self.next_section("what bigrams miss")
        losses = n["losses"]
        cells = [note(t) for t in ("next", "bigrams", "model")]
        for kind in ("verb", "member"):
            cells += [note(kind, 22, TEXT), note(f"{losses[kind][0]:.2f}", 22, TEXT)]
            cells.append(note(f"{losses[kind][1]:.2f}", 22, OUTPUT))
        rows = VGroup(*cells).arrange_in_grid(rows=3, cols=3, buff=(0.45, 0.25))
        caption = note("loss, by kind of next token")
        rows = VGroup(caption, rows).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
        fit_width(rows, 4.0)
        rows.next_to(r_text, DOWN, buff=0.6).align_to(r_text, LEFT)
        with self.voiceover(
            text="What the current token cannot know, it leaves to the heads: which verb "
            "this story uses, and which member comes next. There the model's loss falls "
            f"far below the best bigram model's, from {losses['verb'][0]:.1f} to "
            f"{losses['verb'][1]:.1f} for the verbs and from {losses['member'][0]:.1f} "
            f"to {losses['member'][1]:.1f} for the members, because the heads look back."
        ):
            self.play(FadeIn(rows))


class WhereToLook(NarratedScene):
    """One head: where to look."""

    def construct(self):
        n = numbers()
        words = n["words"]
        shown = words[SHOWN_FROM:]
        self.next_section("story")
        title_card(self, "One head: where to look")
        row = token_row(shown).shift(DOWN * 0.2)
        fit_width(row)
        query = row[-1]
        arcs = VGroup(
            *[
                arc(query, row[k - SHOWN_FROM], float(n["pattern"][k]), OUTPUT)
                for k in range(SHOWN_FROM, len(words) - 1)
                if float(n["pattern"][k]) > 0.01
            ]
        )
        share = float(n["pattern"][n["last"]])
        caption = note(f"head {HEAD}: {share:.1%} of the attention on '6'", 24, OUTPUT)
        caption.to_edge(DOWN, buff=0.6)
        with self.voiceover(
            text="Take one story: Desk was done in six. Sun was done in. The model "
            f"answers {n['answer']}, with {n['p_answer']:.0%} of its probability. The "
            "current token, in, only says that a member comes next. Which one must be "
            f"fetched from earlier in the text, and head {HEAD} does it: from the final "
            f"in, it puts {share:.1%} of its attention on a single token, the six."
        ) as tracker:
            self.play(FadeIn(row), run_time=1)
            self.play(Indicate(query, color=OUTPUT), run_time=1)
            self.play(
                Create(arcs), FadeIn(caption), run_time=min(2, tracker.duration / 3)
            )

        self.next_section("two parts")
        self.play(FadeOut(arcs), FadeOut(caption), row.animate.shift(DOWN * 1.2))
        scale = 0.065
        baseline = row.get_top()[1] + 0.35
        bars = VGroup()
        for k in range(SHOWN_FROM, len(words)):
            x = row[k - SHOWN_FROM].get_center()[0]
            for value, colour, dx in (
                (float(n["token_part"][k]), TOKEN_COLOUR, -0.09),
                (float(n["position_part"][k]), POSITION_COLOUR, 0.09),
            ):
                height = max(abs(value) * scale, 0.01)
                bar = Rectangle(
                    width=0.16, height=height, stroke_width=0, fill_opacity=0.9
                ).set_fill(colour)
                bar.move_to([x + dx, baseline + 1.2 + np.sign(value) * height / 2, 0])
                bars.add(bar)
        zero = Line(
            [row.get_left()[0], baseline + 1.2, 0],
            [row.get_right()[0], baseline + 1.2, 0],
            color=GREY_B,
            stroke_width=1,
        )
        bars.add_to_back(zero)
        legend = (
            VGroup(
                note("what the key is (token)", 22, TOKEN_COLOUR),
                note("where the key is (position)", 22, POSITION_COLOUR),
            )
            .arrange(RIGHT, buff=0.8)
            .to_edge(DOWN, buff=0.35)
        )
        members = [k for k in range(len(words)) if words[k] in ("3", "4", "5", "6")]
        member_scores = [float(n["token_part"][k]) for k in members]
        in_score = float(n["token_part"][-1])
        start, end = float(n["position_part"][0]), float(n["position_part"][:-1].max())
        with self.voiceover(
            text="Why there? A score is a query dotted with a key, and every key is made "
            "of what the token is plus where it is. So each score splits in two. By "
            f"token, head {HEAD} likes the members, about "
            f"{round(sum(member_scores) / len(member_scores))} points each, and "
            f"dislikes in, {spoken_number(in_score)}. By position, it likes the recent "
            f"past: that part climbs from {spoken_number(start)} at the start of the "
            f"story to {spoken_number(end)} near its end."
        ) as tracker:
            self.play(FadeIn(legend))
            self.play(
                LaggedStart(*[GrowFromEdge(b, DOWN) for b in bars], lag_ratio=0.03),
                run_time=min(4, tracker.duration / 2),
            )

        self.next_section("the sum")
        totals = VGroup()
        for k in range(SHOWN_FROM, len(words)):
            value = float(n["token_part"][k] + n["position_part"][k])
            x = row[k - SHOWN_FROM].get_center()[0]
            totals.add(Dot([x, baseline + 1.2 + value * scale, 0], color=OUTPUT))
        best = totals[n["last"] - SHOWN_FROM]
        formula = MathTex(
            r"\text{score} = x_q W_Q W_K^T x_k^T / \sqrt{d_{head}}",
            font_size=BODY_SIZE,
        ).next_to(legend, UP, buff=0.3)
        lead = n["lead"]
        with self.voiceover(
            text="Add the two parts. The last member comes out on top, "
            f"{lead:.1f} points ahead of any other key, and the softmax turns that lead "
            f"into a factor of about {round(math.exp(lead), -2):.0f} in attention. "
            "Members first, and of those the latest: nobody told the model, training "
            "found it. The matrix that scores queries against keys, W Q times W K "
            "transposed, is the head's QK circuit: it decides where to look."
        ):
            self.play(FadeIn(totals))
            self.play(Indicate(best, color=OUTPUT, scale_factor=2))
            self.play(FadeIn(formula))


class WhatToMove(NarratedScene):
    """One head: what to move."""

    def construct(self):
        n = numbers()
        block = n["ov_numerals"]
        self.next_section("ov circuit")
        side = 0.4
        limit = float(block.abs().max())
        grid = VGroup()
        for i, j in itertools.product(range(12), range(12)):
            v = float(block[i, j]) / limit
            colour = interpolate_color(BLACK, POSITIVE if v > 0 else NEGATIVE, abs(v))
            cell = Square(side, stroke_width=0.5, stroke_color=GREY_B)
            grid.add(
                cell.set_fill(colour, 1).move_to(RIGHT * j * side + DOWN * i * side)
            )
        grid.move_to(LEFT * 2.6 + DOWN * 0.5)
        rows = VGroup(
            *[note(str(i + 1), 16).next_to(grid[12 * i], LEFT, 0.12) for i in range(12)]
        )
        cols = VGroup(
            *[note(str(j + 1), 16).next_to(grid[j], UP, 0.1) for j in range(12)]
        )
        row_label = note("attended").rotate(PI / 2).next_to(rows, LEFT, buff=0.15)
        col_label = note("vote for").next_to(cols, UP, buff=0.12)
        labels = VGroup(rows, cols, row_label, col_label)
        title_card(self, "One head: what to move", "", FadeIn(labels))
        with self.voiceover(
            text=f"What does head {HEAD} do with the six it found? Its OV circuit, the "
            "value and output matrices multiplied and read through the unembedding, says "
            "what attending to each token adds to the score of each next token. Here it "
            "is on the numerals: one row for the member it attends to, one column for the "
            "member it votes for."
        ) as tracker:
            self.play(
                LaggedStart(*[FadeIn(c) for c in grid], lag_ratio=0.004),
                run_time=min(4, tracker.duration / 2),
            )

        self.next_section("successor stripe")
        stripe = VGroup(*[Square(side, color=OUTPUT) for _ in range(11)])
        for i, square in enumerate(stripe):
            square.set_stroke(width=3).move_to(grid[13 * i + 1])
        tok, row6 = n["tok"], n["ov_row"]
        seven, six = (float(row6[tok.convert_tokens_to_ids(t)]) for t in "76")
        hits, total = n["successors"]
        facts = VGroup(
            note(f"reading '6': '7' {seven:+.1f}, '6' {six:+.1f}", 24, TEXT),
            note(f"successor on top: {hits} of {total}", 24, OUTPUT),
            note("(numerals, number words, months)"),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.3)
        fit_width(facts, 5.2)
        facts.next_to(grid, RIGHT, buff=0.8).align_to(grid, UP)
        with self.voiceover(
            text="The strong votes sit just above the diagonal. Reading six, the head "
            f"votes for seven, plus {seven:.1f}, and for six itself only plus {six:.1f}. "
            f"Across numerals, number words and months, for {hits} of the {total} "
            "members that have a successor, its biggest vote goes to the successor."
        ):
            self.play(Create(stripe), run_time=1.5)
            self.play(FadeIn(facts[:2]), FadeIn(facts[2]))

        self.next_section("one head, the whole task")
        summary = VGroup(
            note("QK: find the last member", 26, TOKEN_COLOUR),
            note("OV: add one", 26, OUTPUT),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.3)
        summary.next_to(facts, DOWN, buff=0.8).align_to(facts, LEFT)
        with self.voiceover(
            text="So in this model one head does the whole task: its QK circuit finds the "
            "last member, its OV circuit adds one. A head like it, a successor head, is "
            "what lesson four looks for in bigger models."
        ):
            self.play(FadeIn(summary[0]))
            self.play(FadeIn(summary[1]))


class InductionHead(NarratedScene):
    """Two heads compose: the induction head."""

    def construct(self):
        n = numbers()
        text = ind.decode(n["letters"][0])
        length = (len(text) - 1) // 2
        self.next_section("pattern")
        row = token_row(list(text), font_size=28, buff=0.22).shift(DOWN * 0.3)
        fit_width(row)
        middle = row[length].get_right() + RIGHT * 0.11
        half = Line(middle + UP * 0.4, middle + DOWN * 0.4, color=GREY_B)
        title_card(self, "Two heads compose: an induction head", "", FadeIn(row))
        with self.voiceover(
            text="Some jobs take two heads. An induction head completes a pattern it has "
            "seen: after A then B, the next time A comes, it predicts B. Olsson and "
            "colleagues found such heads in the language models they studied. We build "
            "one by hand, on a random order of ten letters, shown twice."
        ):
            self.play(Create(half), run_time=1.5)

        self.next_section("previous-token head")
        prev_arcs = VGroup(
            *[arc(row[p], row[p - 1], 1.0, POSITIVE) for p in range(1, len(row))]
        )
        prev_row = VGroup(
            *[note(text[p - 1], 22, POSITIVE) for p in range(1, len(row))]
        )
        for p, letter in enumerate(prev_row, start=1):
            letter.next_to(row[p], DOWN, buff=0.35)
        prev_label = note("PREV", 20, POSITIVE).next_to(prev_row, LEFT, buff=0.3)
        with self.voiceover(
            text="First, in layer zero, a previous-token head. Every position looks one "
            "step back, and copies the token it finds into a part of its own residual "
            "stream that we call PREV. After it, every letter also carries the letter "
            "that came before it."
        ) as tracker:
            self.play(Create(prev_arcs), run_time=min(2.5, tracker.duration / 2))
            self.play(FadeIn(prev_row), FadeIn(prev_label))

        self.next_section("induction head")
        query = length + 3  # a letter of the second half
        key = query - length + 1  # the letter after its earlier copy
        letter, after = text[query], text[key]
        ind_arc = arc(row[query], row[key], 1.0, OUTPUT)
        ind_arc.set_stroke(width=6)
        guess = note(f"predicts {after}", 26, OUTPUT).next_to(row[query], UP, buff=1.3)
        scores = n["induction"]
        with self.voiceover(
            text=f"In layer one, the induction head. At the second {letter}, its query is "
            f"the current letter, {letter}. Its keys read PREV, so the key that matches "
            f"is the letter whose previous letter was {letter}: the {after} that followed "
            f"{letter} last time. Its OV circuit copies that {after} into the "
            "prediction. The head's keys are built from what the first head wrote: "
            "Elhage and colleagues call this K-composition."
        ) as tracker:
            self.play(FadeOut(prev_arcs))
            self.play(Create(ind_arc), run_time=min(2, tracker.duration / 3))
            self.play(FadeIn(guess))
        first, second = scores["first_half_accuracy"], scores["accuracy"]
        accuracy = note(
            f"right: {first:.0%} of the first half, {second:.0%} of the second"
        )
        accuracy.scale(1.2).to_edge(DOWN, buff=0.5)
        with self.voiceover(
            text=f"On repeated letters it gets {first:.0%} of the first half right, "
            f"where nothing has repeated yet, and {second:.0%} of the second."
        ):
            self.play(FadeIn(accuracy))

        self.next_section("composition scores")
        clear(self)
        heading = title_card(self, "Composition shows in the weights")
        comp, base = n["composition"], n["baseline"]
        axes = Axes(
            x_range=[0, 3, 1],
            y_range=[0, 0.35, 0.1],
            x_length=6.0,
            y_length=3.6,
            tips=False,
            axis_config={"color": GREY_B},
            y_axis_config={"include_numbers": True, "font_size": 20},
        ).next_to(heading, DOWN, buff=0.6)
        axes.shift(LEFT * 2.0)
        score_label = note("composition score")
        score_label.rotate(PI / 2).next_to(axes, LEFT, buff=0.3)
        bars, labels, clouds = VGroup(), VGroup(), VGroup()
        for i, kind in enumerate(("Q", "K", "V")):
            x = i + 0.5
            height = axes.c2p(0, comp[kind])[1] - axes.c2p(0, 0)[1]
            bar = Rectangle(width=0.6, height=max(height, 0.02), stroke_width=0)
            bar.set_fill(OUTPUT, opacity=0.9)
            bar.move_to(axes.c2p(x - 0.15, 0), aligned_edge=DOWN)
            bars.add(bar)
            labels.add(note(kind, 24, TEXT).next_to(axes.c2p(x, 0), DOWN, buff=0.25))
            for v in base[kind][:60]:
                clouds.add(
                    Dot(axes.c2p(x + 0.25, float(v)), radius=0.025, color=GREY_B)
                )
        key = VGroup(note("the two heads", 22, OUTPUT), note("random heads", 22))
        key.arrange(DOWN, aligned_edge=LEFT)
        key.next_to(axes, RIGHT, buff=0.8).align_to(axes, UP)
        mean, sd = float(base["K"].mean()), float(base["K"].std())
        with self.voiceover(
            text="In a trained model we would not know where heads compose, but it shows "
            "in the weights. Multiply what the first head writes, its OV circuit, by what "
            "the second head's keys read, its QK circuit, and compare the size of the "
            f"product with its factors. This K-composition score is {comp['K']:.2f}, "
            f"against {mean:.2f} plus or minus {sd:.2f} for random heads of the same "
            "shapes; query and value composition are exactly zero."
        ) as tracker:
            self.play(Create(axes), FadeIn(labels), FadeIn(score_label), run_time=1)
            self.play(
                FadeIn(clouds),
                FadeIn(key),
                *[GrowFromEdge(b, DOWN) for b in bars],
                run_time=min(2, tracker.duration / 2),
            )

        self.next_section("next")
        closing = VGroup(
            note("lesson 04's hand-built transformer:", 24, TEXT),
            note("a mover + a successor head", 24, OUTPUT),
            note("(V-composition)", 22),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
        fit_width(closing, 4.6)
        closing.next_to(key, DOWN, buff=0.8).align_to(key, LEFT)
        with self.voiceover(
            text="Lesson four starts from a model built the same way: a mover that fetches "
            "the last member, and a successor head that reads what the mover wrote and "
            "adds one. That is V-composition. In the notebook, you write the forward "
            "pass, predict what each head does before you look, and build every one of "
            "these heads yourself."
        ):
            self.play(FadeIn(closing))
        self.wait(0.5)
