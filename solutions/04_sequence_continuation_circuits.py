# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 04 · Sequence-continuation circuits, and the sub-circuit the tasks share
#
# Give a language model the story
#
# > Van was done in **1**. Hat was done in **2**. Ring was done in **3**. Desk
# > was done in **4**. Sun was done in
#
# and it answers **5**. Swap the numerals for number words ("one two three
# four" → "five") or months ("January February March April" → "May") and it
# still continues the sequence. Michael Lan, Philip Torr and Fazl Barez asked
# *how* GPT-2 small does this, and whether the three tasks use the same
# machinery: "Towards Interpretable Sequence Continuation: Analyzing Shared
# Circuits in Large Language Models" (arXiv 2311.04131). They found a circuit
# per task and a sub-circuit the three share, with at its heart a
# **successor head**, head 9.1, whose OV circuit maps a member to the next
# one (Gould, Ong, Ogden and Conmy, "Successor Heads", arXiv 2312.09230).
#
# In this lesson you do their study yourself, step by step:
#
# 0. the hand-built transformer of lesson 03, whose circuit we know: every
#    method runs on it first;
# 1. the task, the data and the metric;
# 2. the logit lens: at which depth the answer appears;
# 3. attention patterns: which heads look at which member;
# 4. activation patching, exact and attribution (its fast approximation);
# 5. mean ablation of each head and MLP;
# 6. circuit discovery by the paper's iterative pruning;
# 7. what the components do: OV successor scores and MLP neurons;
# 8. the overlap of the three circuits, the shared sub-circuit;
# 9. circuit surgery: an edit fitted on numerals alone, tested on all three;
# 10. "One is 1": do 5, five and May share a representation, and what in the
#     training data makes them share it?
#
# **Which model?** The paper studies GPT-2 small. Its weights are 500 MB from
# the Hugging Face hub, which many learners (and this course's test machines)
# cannot reach. So the lesson runs on `load_model("auto")`: GPT-2 small when
# its weights are on your machine, otherwise **toy-seq**, a small transformer
# (4 layers of 4 heads) the course trained on stories in the paper's
# templates. Every cell is the same for both, and every finding is set
# beside the paper's GPT-2 small results.
#
# How toy-seq was made, since everything it shows is a product of it: half
# of its training stories use one format throughout (the paper's three
# tasks); in the other half every member takes a random format and the
# answer comes in the format of the *first* member ("in 3. ... in four. ...
# in May. ... in" → "6"), the way numbers, number words and months meet in
# ordinary text. Its layer-0 attention was frozen uniform during training
# (each head of layer 0 averages the tokens before it), so that the member
# has to be moved by a head above layer 0, as in GPT-2; and it was trained
# once, from seed 0, for 1,000 steps (the recipe, and the seeds and variants
# tried, are in `neuralcircuits/science/toy_seq`). Its twin **toy-seq-separate**
# has the same design but saw one format per story; section 10 sets the two
# side by side. Knowing the training data tells us the *function* each
# model was taught, not the *mechanism* it found: for that, the only model
# whose circuit we know is the hand-built one of section 0.
#
# **How exercises work.** Each exercise is a function you write, followed by a
# check cell that prints ✔ or says in one sentence what is wrong. The lesson
# then carries on with the library's version, so it runs top to bottom even
# before you do the exercises.

# %%
from neuralcircuits.teaching.media import show_video

show_video("04_sequence_continuation_circuits")

# %%
import textwrap

import matplotlib.pyplot as plt
import torch

import neuralcircuits.teaching.sequence_circuits.widgets as explorers
from neuralcircuits.science import attribution, sequences, surgery
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import hand_built_transformer as hb
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import representations as rep
from neuralcircuits.science.models import load_model, model_name
from neuralcircuits.science.patching import Component, attribution_patch_heads
from neuralcircuits.teaching import figures
from neuralcircuits.teaching.checking import check_choice
from neuralcircuits.teaching.sequence_circuits.checks.ablation_pruning import (
    check_iterative_prune,
    check_mean_ablate_head,
)
from neuralcircuits.teaching.sequence_circuits.checks.components_surgery import (
    check_ov_successor_score,
    check_shared_components,
    check_shift_corrections,
)
from neuralcircuits.teaching.sequence_circuits.checks.patching_attribution import (
    check_head_dla,
    check_patch_one_head,
)
from neuralcircuits.teaching.sequence_circuits.checks.representations import (
    check_format_similarity,
    check_patch_subspace,
)
from neuralcircuits.teaching.sequence_circuits.checks.task_attention import (
    check_attention_to_last_member,
    check_head_prediction,
    check_logit_diff_metric,
)
from neuralcircuits.teaching.sequence_circuits.figures import draw_member_pca

torch.manual_seed(0)
TASKS = sequences.TASKS  # ("numerals", "number_words", "months")

# %%
model = load_model("auto")
NAME = model_name(model)
torch.set_num_threads(study.recommended_threads(model))
cfg = model.cfg
print(
    f"This lesson runs on {NAME}: {cfg.n_layers} layers x {cfg.n_heads} heads, "
    f"d_model = {cfg.d_model}, a vocabulary of {cfg.d_vocab} tokens."
)

# %% [markdown]
# A component is named as in the paper: head `L.H` is head `H` of layer `L`
# (both counted from 0), and `MLP L` is the MLP of layer `L`. toy-seq is tiny
# next to GPT-2 small's 12 layers of 12 heads, so its circuits will be small;
# what carries over is the method, and, as we will see, the roles.
#
# Here is what the paper found in GPT-2 small, the table every section comes
# back to:

# %%
print("The circuits of GPT-2 small (Lan et al. 2023):")
for task in TASKS:
    kept = cd.PAPER_PERFORMANCE[task]
    print(f"{task}, kept {'n/a' if kept is None else f'{kept:.1%}'}:")
    print(
        textwrap.fill(
            cd.format_circuit(cd.paper_circuit(task)),
            76,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )
paper_shared = cd.circuit_overlap({t: cd.paper_circuit(t) for t in TASKS})
print("shared heads:", ", ".join(str(c) for c in paper_shared if c.kind == "head"))

# %% [markdown]
# ## 0. The hand-built transformer: a circuit we know
#
# Lesson 03 read a transformer as a residual stream that every block adds
# to, and a head as a QK circuit (where to look) and an OV circuit (what to
# move); you set a head's weights by hand so that it fetched the last
# member. The library's `hand_built_transformer` (`hb`) finishes that
# idea as a real model on this lesson's prompts: two layers of two heads,
# every weight set by hand, no training. Head 0.0 is the **mover** (from the
# final "in" to the last member, copying its index and its format); head
# 1.0 is a **successor head** that reads what the mover left at the final
# position and writes a vote for the next member (V-composition, Elhage et
# al. 2021). The other components are **bystanders**: active, but nothing
# the answer depends on reads them. Its roles, and how it does the three
# tasks:

# %%
hand = hb.build()
hand_data, _ = study.build_task_data(hand)
for comp, role in hb.ROLES.items():
    print(f"{comp:<6}{role}")
for task in TASKS:
    d = hand_data[task]
    with torch.no_grad():
        ld = sequences.logit_diff(hand(d.clean.tokens), d.clean)
    print(
        f"{task:<13} top-1 correct {sequences.accuracy(hand, d.clean):.0%}, "
        f"logit difference {ld:.2f}"
    )

# %% [markdown]
# **Build, then find.** Because we know this model's circuit (heads 0.0 and
# 1.0, nothing else), every method below runs on it first: a method that
# does not recover the planted circuit here cannot be trusted on a trained
# model. Then the same method runs on the lesson's model, where nobody
# planted anything.

# %% [markdown]
# ## 1. The task, the data and the metric
#
# The paper's prompts are four short sentences with a member each, and a
# fifth sentence left open. Three templates differ in the verb: `done` and
# `lost` with common nouns, `born` with first names.

# %%
for verb, template in sequences.TEMPLATES.items():
    print(textwrap.fill(f"{verb}: {template}", 78, subsequent_indent="      "))

# %% [markdown]
# Every prompt comes in three aligned versions, built from one seed row by
# row (same nouns, same start):
#
# * **clean**: the sequence, e.g. members 3 4 5 6, answer 7;
# * **corrupted**: the last member repeated (3 4 5 5), the baseline for
#   activation patching. The *incorrect* answer of the metric is the fourth
#   member, the one a model that merely copies would say;
# * **random**: random members, the reference whose mean activations replace
#   a component when we ablate it.
#
# The paper keeps a prompt only if the model gets it right, with
# p(correct) > 2 p(incorrect), and filters the tasks together so the three
# tasks share their prompts. `study.build_task_data` does all of this (96
# rows per task before filtering, 32 per template). On the course's toy
# models it draws only (first word, last word) pairs their training never
# showed, so every prompt is new to the model.

# %%
data, pass_rates = study.build_task_data(model)
for _task, kind, prompt in study.example_prompts(data)[:3]:
    print(textwrap.fill(f"{kind:>9}: {prompt}", 78, subsequent_indent=" " * 11))
print()
for task in TASKS:
    d = data[task]
    print(
        f"{task:<13} passes the filter alone: {pass_rates[task]:6.1%}; "
        f"kept in every task: {len(d)} rows;\n{'':<14}"
        f"e.g. '... {d.clean.prompts[1].split('. ', 3)[-1]}' "
        f"-> {d.clean.answer_members[1]}"
    )

# %% [markdown]
# ### The metric: the logit difference
#
# How sure is the model of the answer? The paper's metric is the **logit
# difference**: the logit of the correct answer minus the logit of the
# incorrect one (the last member repeated), at the last position, averaged
# over prompts. It is positive when the model prefers the successor, and, being
# a difference of logits, it is not squashed by the softmax the way a
# probability near 1 is.
#
# ## Exercise 1 · The logit-difference metric
#
# **Difficulty** ●○○ · **Importance** ●●● · about 5 minutes · *fill in*
#
# Write `logit_diff_metric(logits, answers, wrong_answers)`: `logits` has shape
# `[batch, pos, d_vocab]`, `answers` and `wrong_answers` hold one token id per
# prompt. Return one number, a 0-d tensor.
#
# <details><summary>Hint</summary>
#
# Which position predicts the token after the prompt? From that position's
# `[batch, d_vocab]` logits, each row needs its own two entries, so index
# rows and columns together rather than slicing columns.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Take the last position, gather the correct and incorrect logits of each
# row, subtract, and take the mean over the batch so the metric does not
# depend on how many prompts you use.
# </details>


# %% tags=["exercise"]
def logit_diff_metric(
    logits: torch.Tensor, answers: torch.Tensor, wrong_answers: torch.Tensor
) -> torch.Tensor:
    """Mean of logit(correct) - logit(incorrect) at the last position (a 0-d tensor)."""
    # BEGIN SOLUTION
    last = logits[:, -1]  # [batch, d_vocab]
    rows = torch.arange(last.shape[0])
    return (last[rows, answers] - last[rows, wrong_answers]).mean()
    # END SOLUTION


# %% tags=["check"]
check_logit_diff_metric(logit_diff_metric)

# %% [markdown]
# ## Exercise 2 · Predict: the corrupted prompts
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *predict*
#
# The metric on a *corrupted* prompt keeps the clean prompt's answers: the
# correct answer is still the clean successor (" 7" for 3 4 5 6) and the
# incorrect one the clean fourth member (" 6"). The corrupted prompt shows
# 3 4 5 5. If the model answers "the successor of the last member shown",
# what will its logit difference be on the corrupted prompts: `"positive"`,
# `"negative"` or `"about zero"`? Decide before you run the next cell.
#
# <details><summary>Hint</summary>
#
# What does the model answer after 3 4 5 5, and which of the metric's two
# tokens is that?
# </details>


# %% tags=["exercise"]
def predict_corrupted_sign() -> str:
    """Your prediction: "positive", "negative" or "about zero"."""
    # BEGIN SOLUTION
    return "negative"  # it answers 6, the metric's *incorrect* token
    # END SOLUTION


# %% [markdown]
# The library's version of the metric is `sequences.logit_diff(logits,
# dataset)`. With it, the model's accuracy and logit difference on each task,
# clean and corrupted. The metric reads the last position only, so
# `sequences.last_logits` unembeds that position alone: with GPT-2's 50,257
# tokens, unembedding every position costs about half as much as all twelve
# blocks together. `clean_last_logits` also remembers the result, since
# later sections read the same clean runs.


# %%
def metric_for(dataset):
    """The logit difference on `dataset`, as a function of the logits."""
    return lambda logits: sequences.logit_diff(logits, dataset)


metric_table = {}
print(f"{'task':<14}{'top-1 correct':>14}{'clean':>10}{'corrupted':>11}")
for task in TASKS:
    d = data[task]
    clean_logits = sequences.clean_last_logits(
        model, d.clean.tokens
    )  # [batch, d_vocab]
    clean_ld = sequences.logit_diff(clean_logits, d.clean).item()
    corr_ld = sequences.logit_diff(
        sequences.last_logits(model, d.corrupted.tokens), d.clean
    ).item()
    acc = (clean_logits.argmax(-1) == d.clean.answers).float().mean().item()
    metric_table[task] = (acc, clean_ld, corr_ld)
    print(f"{task:<14}{acc:>14.1%}{clean_ld:>10.2f}{corr_ld:>11.2f}")

# %% tags=["check"]
corrupted_sign = (
    "negative"
    if max(c for _, _, c in metric_table.values()) < -1
    else "positive"
    if min(c for _, _, c in metric_table.values()) > 1
    else "about zero"
)
check_choice(
    predict_corrupted_sign,
    ("positive", "negative", "about zero"),
    corrupted_sign,
    "on 3 4 5 5 the model answers 6, the token the clean metric calls "
    "incorrect, so the difference turns negative.",
)

# %% [markdown]
# The two runs differ in one token and give opposite answers: that is what
# makes the pair useful for patching (section 4). On toy-seq every prompt
# passes the filter, the clean difference is above 10 and the corrupted one
# below −10 in every task: the model is sure, and one token flips it. GPT-2
# small is less sure: the paper measured 6.73 clean and −4.88 corrupted on
# bare "1 2 3 4" prompts (the reference table in section 4).
#
# Does the model read only the last member, or the whole run? toy-seq was
# taught on stories whose answer is always the successor of the last member
# shown (in the first member's format; 30% of the stories had random
# members), so that is the function it was
# trained to compute; whether it learned it is tested below, on any model,
# by intervening on the input: replace the three earlier members of every
# clean prompt by random other members, keep the last one, and count how
# often the top answer stays the same. A model that reads only the last
# member is unmoved; GPT-2 may also read the run.

# %%
for task in TASKS:
    kept = study.answer_kept_when_earlier_members_change(model, data[task].clean)
    print(
        f"{task:<13} answer unchanged when the earlier members are scrambled: "
        f"{kept:.1%}"
    )

# %% [markdown]
# ### Summary
# * Three tasks, three templates, aligned clean / corrupted / random prompts.
# * The metric is the logit difference, correct minus last-member-repeated;
#   the corrupted prompts flip its sign.

# %% [markdown]
# ## 2. The logit lens: where does the answer appear?
#
# The **logit lens** (nostalgebraist 2020) reads the residual stream at each
# depth as if it were the last: through the final LayerNorm and the
# unembedding. Depth 0 is the embedding; depth *d* is the stream after block
# *d* − 1 (blocks count from 0, like layers). It shows at which depth the
# answer becomes readable. We track three things per depth at the final
# position: the logit difference, how often the answer is the top token, and
# how often the *last member shown* is the top token (a model might first
# copy the member, then add one).

# %% [markdown]
# The hand-built transformer first. Its answer is written by the successor
# head of block 1, and nothing in it ever writes the last member as a token,
# so the lens should find the answer only at depth 2, after its last block:

# %%
hand_lens = study.lens_summary(hand, hand_data["numerals"].clean)
print(
    "hand-built, answer on top at depth 0, 1, 2:",
    ", ".join(f"{v:.0%}" for v in hand_lens["answer_top1"].tolist()),
)

# %% [markdown]
# And the lesson's model:

# %%
lens = {task: study.lens_summary(model, data[task].clean) for task in TASKS}
fig, axes = figures.figure(1, 2, height=3.8)
for task in TASKS:
    axes[0].plot(lens[task]["logit_diff"], marker="o", label=task)
    axes[1].plot(lens[task]["answer_top1"], marker="o", label=task)
axes[0].set_title("logit difference\nread at each depth")
axes[1].set_title("share of prompts with\nthe answer on top")
for ax in axes:
    ax.set_xlabel("depth (0 = embedding, d = after block d - 1)")
    figures.integer_ticks(ax, "x", cfg.n_layers + 1)
fig.legend(
    *axes[0].get_legend_handles_labels(),
    loc="outside lower center",
    ncol=len(TASKS),
    frameon=False,
)
plt.show()

print(f"{'task':<14}{'depth':>6}{'answer top-1':>14}{'last member top-1':>19}")
for task in TASKS:
    for depth in range(cfg.n_layers + 1):
        row = lens[task]
        print(
            f"{task:<14}{depth:>6}{row['answer_top1'][depth]:>14.1%}"
            f"{row['last_member_top1'][depth]:>19.1%}"
        )
    first = int((lens[task]["answer_top1"] > 0.5).float().argmax())
    print(
        f"  -> the answer first tops most prompts at depth {first}, "
        f"after block {first - 1}"
    )

# %% [markdown]
# Read the table above. In GPT-2 small the paper found the answer appearing
# late: after block 8 the top token is usually the member *before* the
# answer (the last member shown), and after block 9 it is the answer
# (numerals: 1531/1536 prompts, months 1495/1536, number words 1396/1536).
# The copy comes before the +1. On toy-seq the answer is on top in every
# prompt from depth 2 on (after block 1, whose heads carry the member, as
# section 3 shows) and in at most an eighth of them before; the last member
# is on top in at most an eighth of the prompts at any depth. The lens shows
# no "copy first, then +1" stage here: whatever block 1 moves is read out as
# the successor at once.
#
# ### Summary
# * The logit lens locates the depth where the answer becomes readable.
# * In GPT-2 small it appears after block 9, the successor head's; in
#   toy-seq after block 1.

# %% [markdown]
# ## 3. Attention: who looks at which member?
#
# To continue a sequence, the final position must learn what the members are.
# Attention is the only way information moves between positions, so we ask:
# from the final position, how much does each head attend to each of the four
# members? (The members sit at fixed positions in every prompt.)

# %% [markdown]
# The hand-built transformer first: from its final position, the mover 0.0
# should attend almost only to the last member, and the member averager 1.1
# a quarter to each member (its 25% on the last one is not a sign that it
# matters).

# %%
hand_to_last = roles.attention_to_members(hand, hand_data["numerals"].clean)[..., -1]
print(
    "hand-built, attention to the last member:",
    ", ".join(f"{h} {v:.1%}" for h, v in roles.top_heads(hand_to_last, k=2)),
)

# %% [markdown]
# And the lesson's model:

# %%
to_members = {
    task: roles.attention_to_members(model, data[task].clean) for task in TASKS
}
fig, axes = figures.figure(1, 3, height=2.2 + 0.45 * cfg.n_layers)
for ax, task in zip(axes, TASKS, strict=True):
    image = figures.heatmap(
        ax,
        to_members[task][..., -1],
        [str(L) for L in range(cfg.n_layers)],
        [str(h) for h in range(cfg.n_heads)],
        cmap="Blues",
        vmin=0,
        vmax=1,
        colorbar=False,
    )
    ax.set_title(task)
    ax.set_xlabel("head")
axes[0].set_ylabel("layer")
fig.suptitle("attention from the final position to the last member")
fig.colorbar(image, ax=axes, shrink=0.9, label="attention")
plt.show()

for task in TASKS:
    last = roles.top_heads(to_members[task][..., -1], k=3)
    earlier = roles.top_heads(to_members[task][..., :-1].sum(-1), k=3)
    last_text = ", ".join(f"{h} {v:.2f}" for h, v in last)
    earlier_text = ", ".join(f"{h} {v:.2f}" for h, v in earlier)
    print(f"{task:<13} to the last member:  {last_text}")
    print(f"{'':<13} to earlier members: {earlier_text}")

# %% [markdown]
# ## Exercise 3 · The attention-to-last-member readout
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 10 minutes · *fill in*
#
# The table above comes from one readout. Write
# `attention_to_last_member(pattern, member_pos)`: `pattern` is one layer's
# `hook_pattern`, `[batch, n_heads, query, key]`, and `member_pos` is
# `[batch, 4]`, each row's member positions. Return, per head, the attention
# from the final position to the row's last member, averaged over rows
# (`[n_heads]`). Do not assume the members sit at the same positions in
# every row.
#
# <details><summary>Hint</summary>
#
# Three choices make the readout: which query (the final position), which
# key (a different one per row, so it must be chosen row by row, together
# with the row), and what to average over at the end (the rows, not the
# heads).
# </details>
#
# <details><summary>Solution explained</summary>
#
# `pattern[rows, :, -1, member_pos[:, -1]]` with `rows = torch.arange(batch)`
# picks, for each row, the query −1 and the key of that row's last member,
# for every head: `[batch, n_heads]`; the mean over rows is the readout.
# </details>


# %% tags=["exercise"]
def attention_to_last_member(pattern, member_pos):
    """Mean attention from the final position to each row's last member, per head [n_heads]."""
    # BEGIN SOLUTION
    rows = torch.arange(pattern.shape[0])
    return pattern[rows, :, -1, member_pos[:, -1]].mean(0)
    # END SOLUTION


# %% tags=["check"]
check_attention_to_last_member(attention_to_last_member)

# %% [markdown]
# The printout above lists, per task, the heads with the most attention to
# the last member and to the three earlier ones. On toy-seq, head 1.3 gives
# the last member all of the final position's attention in every task, and
# 1.0 most of it; the heads of layer 0 attend uniformly (that was frozen in
# training), so the movers sit in layer 1. Another head of layer 1 looks
# elsewhere. The cell below finds the head that attends most to the *first*
# member and shows its attention member by member:

# %%
to_first = torch.stack([to_members[t][..., 0] for t in TASKS]).mean(0)  # [L, H]
first_head = Component.parse(roles.top_heads(to_first, 1)[0][0])
by_place = torch.stack(
    [to_members[t][first_head.layer, first_head.head] for t in TASKS]
).mean(0)
print(
    f"head {first_head}, attention from the final position to members 1-4: "
    + ", ".join(f"{v:.2f}" for v in by_place.tolist())
)

# %% [markdown]
# On toy-seq it is head 1.1, and it attends to the **first** member and
# nothing else. Recall how toy-seq was trained:
# in mixed stories the answer takes the first member's format. So one head
# of layer 1 fetches the last member (its value) and another the first
# member (its format): the two things the training data asked for, read
# from two places. Keep 1.1 in mind; in the paper's three tasks every
# member has the same format, so the model may not need it there (section
# 5 measures it).
#
# In GPT-2 small the paper describes head 9.1 attending from the last token
# almost only to the most recent member, 7.11 attending to the recent
# members, and 1.5 and 4.4 as "number detection" heads that attend between
# members (4.4: " 3" → " 2" with mean weight 0.34).
#
# ## Exercise 4 · Predict: the head that patching ranks first
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *predict*
#
# Before you patch (next section): which head will activation patching rank
# first on the numerals, the head whose clean output restores most of the
# answer? Clean and corrupted prompts differ only in the last member. Use
# what you have seen so far and return it from `predict_top_head` as
# `"layer.head"`. The check runs after the patching below and compares.


# %% tags=["exercise"]
def predict_top_head() -> str:
    """Your prediction: the head patching will rank first on the numerals, as "layer.head"."""
    # BEGIN SOLUTION
    # the head that attends most from the final position to the last member
    return roles.top_heads(to_members["numerals"][..., -1], k=1)[0][0]
    # END SOLUTION


# %% [markdown]
# ### Explore: attention patterns
#
# Pick a task, a prompt, a layer and a head. The top bar chart is the final
# position's attention (members in gold); below is the full pattern. (The
# widget needs a live kernel; a static page shows its first drawing.)

# %%
explorers.attention_explorer(model, data)

# %% [markdown]
# ### Summary
# * A few heads carry the last member to the final position; the table names
#   them for your model. On toy-seq a second head fetches the first member,
#   whose format the answer takes in mixed stories.
# * Attention says where a head *looks*, not whether what it moves matters.
#   For that we intervene.

# %% [markdown]
# ## 4. Activation patching
#
# **Activation patching** runs the corrupted prompt, but copies one
# activation from the clean run into it, and asks how much of the clean
# answer comes back. We report it normalised: 0 is the corrupted run, 1 the
# clean run. An activation that restores much of the answer carries the
# information that distinguishes the two prompts: here, which member came
# last.
#
# ## Exercise 5 · Patch one head by hand
#
# **Difficulty** ●●○ · **Importance** ●●● · about 15 minutes · *fill in*
#
# Write `patch_one_head(model, clean_tokens, corrupted_tokens, layer, head,
# metric)`: cache the clean run's `blocks.{layer}.attn.hook_z` (each head's
# output before the output matrix, shape `[batch, pos, n_heads, d_head]`), run
# the corrupted tokens with a hook that copies head `head`'s slice from the
# cache, and return `metric(logits)`.
#
# <details><summary>Hint</summary>
#
# Two runs: one that only records (lesson 03's `run_with_cache`), one that
# intervenes (a hook, as in lesson 03, attached for one run with
# `run_with_hooks`). The hook receives the corrupted run's `z` and returns
# what the rest of the run should use instead; change only one head's
# slice, and do not write into the tensor you were handed.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Inside the hook, `z[:, :, head] = cache[name][:, :, head]` replaces that
# head's output at every position and leaves the other heads alone. The
# direction matters: the clean activation goes into the corrupted run.
# </details>


# %% tags=["exercise"]
def patch_one_head(model, clean_tokens, corrupted_tokens, layer, head, metric):
    """The metric of the corrupted run with one head's clean output patched in."""
    # BEGIN SOLUTION
    name = f"blocks.{layer}.attn.hook_z"
    with torch.no_grad():
        _, cache = model.run_with_cache(clean_tokens, names_filter=lambda n: n == name)

        def hook_fn(z, hook):
            z = z.clone()
            z[:, :, head] = cache[name][:, :, head]
            return z

        logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(name, hook_fn)])
    return metric(logits)
    # END SOLUTION


# %% tags=["check"]
check_patch_one_head(patch_one_head)

# %% [markdown]
# The library's `patching` module does every head, every layer and every
# position at once (the same numbers as TransformerLens's patching, computed
# faster). `study.patching_results` runs all of its sweeps for a task and
# normalises them.
#
# How many prompts does patching need? Clean and corrupted prompts differ in
# one token, and the patching map is nearly the same from prompt to prompt:
# the paper's own patching notebooks used 6 to 8 prompts per task. On a model
# as large as GPT-2 small, `study.analysis_rows` keeps 8 per task, spread over
# the three templates (`study.ANALYSIS_PROMPTS`); toy-seq is cheap, so it
# uses every prompt. The sweeps skip nothing they report: a patch before the
# first position where the two prompts differ copies the value the corrupted
# run already has, so those cells are the corrupted run's number, exactly.
# One sweep is cut on GPT-2 small: heads one position at a time are patched
# only where the prompts differ and at the final position
# (`study.by_position_columns`); the positions in between are left blank.
# Results are kept in `build/cache`, keyed by the model's weights, the
# prompts and the library's code, so running the cell again is instant.

# %% [markdown]
# On the hand-built transformer first: patching either planted head should
# restore the whole answer (1.00), and every bystander nothing.

# %%
hand_patched = study.patching_results(hand, hand_data["numerals"])
print("hand-built, patching each head (numerals):")
for L in range(hand.cfg.n_layers):
    print(
        "  "
        + "  ".join(
            f"{L}.{h} {hand_patched['heads'][L, h]:.2f}"
            for h in range(hand.cfg.n_heads)
        )
    )

# %% tags=["nbval-ignore-output"]
study.announce(model, data["numerals"], "patching")
patched = {task: study.patching_results(model, data[task]) for task in TASKS}

# %%
fig, axes = figures.figure(3, 1, height=3 * (0.9 + 0.32 * (cfg.n_layers + 1)) + 1.2)
for ax, task in zip(axes, TASKS, strict=True):
    words = [model.tokenizer.decode([int(t)]) for t in patched[task]["tokens"]]
    m, rows, cols, title = explorers.patching_view(
        patched[task], "residual stream", True, [repr(w)[1:-1] for w in words]
    )
    explorers.draw_patching(
        m, rows, cols, f"{task}: residual stream", ax=ax, colorbar=ax is axes[0]
    )
plt.show()

fig, axes = figures.figure(1, 3, height=1.6 + 0.4 * cfg.n_layers)
for ax, task in zip(axes, TASKS, strict=True):
    m, rows, cols, title = explorers.patching_view(patched[task], "heads", False)
    explorers.draw_patching(
        m,
        [r.removeprefix("layer ") for r in rows],
        [c.removeprefix("head ") for c in cols],
        task,
        ax=ax,
        colorbar=ax is axes[-1],
    )
    ax.set_xlabel("head")
axes[0].set_ylabel("layer")
fig.suptitle("heads: share of the clean logit diff restored")
plt.show()

for task in TASKS:
    top = roles.top_heads(patched[task]["heads"], k=3)
    print(
        f"{task:<13} clean {patched[task]['clean']:6.2f}, corrupted "
        f"{patched[task]['corrupted']:6.2f}; top heads: "
        + ", ".join(f"{h} {v:.2f}" for h, v in top)
    )

# %% [markdown]
# Your prediction against the patching result on the numerals:

# %% tags=["check"]
check_head_prediction(predict_top_head, patched["numerals"]["heads"])

# %% [markdown]
# ### Direct logit attribution
#
# Patching says which head's output *matters*. **Direct logit
# attribution** (Elhage et al. 2021) says what a head writes *straight into
# the answer*. The logits are `ln_final(resid) @ W_U`, and the final
# residual stream is a sum of every component's output. Fix the final
# LayerNorm's scale (one number per prompt, read from the cache) and the
# logit difference becomes a sum with one term per component: its output at
# the final position, divided by the scale, dotted with the direction
# `W_U[:, correct] - W_U[:, wrong]` (times the LayerNorm's weight, centred).
# `attribution.answer_directions` gives that direction per prompt.
#
# ## Exercise 6 · Direct logit attribution of each head
#
# **Difficulty** ●●○ · **Importance** ●●● · about 15 minutes · *fill in*
#
# Write `head_dla(z, W_O, scale, directions)`: `z` is one layer's `hook_z` at
# the final position, `[batch, n_heads, d_head]`; `W_O` is `[n_heads,
# d_head, d_model]`; `scale` is `[batch, 1]`; `directions` is `[batch,
# d_model]`. Return each head's mean contribution, `[n_heads]`.
#
# <details><summary>Hint</summary>
#
# Follow one head through the three steps the paragraph above names: its
# output in the residual stream (which matrix takes `d_head` to
# `d_model`?), the prompt's LayerNorm scale, then a dot product with the
# prompt's own direction. Keep the head axis until the very end, and
# average over prompts last.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Each head's output is `z_h W_O[h]`; the LayerNorm divides the whole
# residual by the prompt's scale; the dot product with the prompt's answer
# direction is that head's share of the logit difference.
# </details>


# %% tags=["exercise"]
def head_dla(z, W_O, scale, directions):
    """Each head's mean direct contribution to the logit difference [n_heads]."""
    # BEGIN SOLUTION
    out = torch.einsum("bhd,hdm->bhm", z, W_O)  # [batch, n_heads, d_model]
    return ((out / scale[:, :, None]) * directions[:, None]).sum(-1).mean(0)
    # END SOLUTION


# %% tags=["check"]
check_head_dla(head_dla)

# %% [markdown]
# The library's `attribution.head_dla` is the same function;
# `attribution.logit_attribution` applies it to every layer (reading `z` and
# the scale from the cache) and also gives the MLPs, the embeddings and the
# biases. The terms add up to the model's logit difference exactly (printed below);
# beside them, the patching score of each head.

# %%
dla = {task: attribution.logit_attribution(model, data[task].clean) for task in TASKS}
for task in TASKS:
    r = dla[task]
    total = (
        r["heads"].sum()
        + r["mlps"].sum()
        + r["embed"]
        + r["attn_biases"]
        + r["constant"]
    )
    clean_logits = sequences.clean_last_logits(model, data[task].clean.tokens)
    actual = sequences.logit_diff(clean_logits, data[task].clean)
    top = roles.top_heads(r["heads"], k=2)
    print(f"{task}: logit diff {actual:.2f} = sum of terms {total:.2f}")
    print(
        f"  heads {r['heads'].sum():.2f}, MLPs {r['mlps'].sum():.2f}, "
        f"embeddings {r['embed']:.2f}; top heads "
        + ", ".join(f"{h} {v:.2f}" for h, v in top)
        + f" (patching ranks {roles.top_heads(patched[task]['heads'], 1)[0][0]} first)"
    )
hand_dla = attribution.logit_attribution(hand, hand_data["numerals"].clean)["heads"]
print(
    "hand-built, direct terms of the heads (numerals): "
    + ", ".join(f"{L}.{h} {hand_dla[L, h]:.2f}" for L in range(2) for h in range(2))
)
print(
    "MLPs' direct terms, numerals:",
    ", ".join(
        f"MLP{L} {v:.2f}" for L, v in enumerate(dla["numerals"]["mlps"].tolist())
    ),
)

# %% [markdown]
# A head can matter to patching and write little directly: it moves the
# member to the final position, and a later MLP (or head) turns it into the
# answer. Direct attribution then credits what comes later. The hand-built
# transformer shows it exactly: its mover 0.0 restores the whole answer
# under patching and writes 0.00 directly; the successor head 1.0 writes
# all of it.
#
# On toy-seq the heads together write between a fifth and a half of the
# logit difference directly and the MLPs the rest; the head patching ranks
# first writes less than a fifth of it. So the layer-1 heads do not write
# the whole answer themselves: the MLPs after them add most of it (section 7
# shows why: what 1.3 writes names the next *value* but not reliably its
# format). In GPT-2 small the paper's successor head 9.1 both restores the
# answer under patching (0.25 to 0.30, the table below) and writes the
# successor through its OV circuit (section 7).

# %% [markdown]
# The residual-stream map says *where* the difference lives: before the first
# layer it sits only at the position of the last member (the one token that
# differs); further up it moves to the final position. The head map says
# *who* moves it. The paper's patching in GPT-2 small, for comparison (the
# same normalisation):
#
# | prompts | clean | corrupted | top heads |
# |---|---|---|---|
# | "1 2 3 4" → " 5" | 6.73 | −4.88 | 9.1 0.25, 7.10 0.08, 0.1 0.08, 8.8 0.05 |
# | "one two three four" | 2.59 | −3.32 | 9.1 0.30, 0.1 0.05, 8.8 0.05 |
# | "January February March April" | 8.48 | −6.72 | 9.1 0.24, 7.10 0.05, 0.1 0.05 |


# %% [markdown]
# ### Attribution patching: the fast approximation
#
# Exact patching runs the model once per patched activation: 144 heads × 30
# positions in GPT-2 small. **Attribution patching** (Neel Nanda 2023)
# approximates every cell at once with one backward pass: the gradient of the
# metric times the difference between the clean and corrupted activation. It
# is a first-order Taylor estimate, good when the patch is small and the
# model locally linear. How well does it agree with the exact numbers?

# %%
span = {task: patched[task]["clean"] - patched[task]["corrupted"] for task in TASKS}
for task in TASKS:
    d = patched[task]["data"]  # the prompts the exact sweeps used
    attr = (
        attribution_patch_heads(
            model, d.clean.tokens, d.corrupted.tokens, metric_for(d.clean)
        )
        / span[task]
    )
    exact = patched[task]["heads"]
    corr = torch.corrcoef(torch.stack([attr.flatten(), exact.flatten()]))[0, 1]
    print(
        f"{task:<13} correlation with exact patching {corr:.2f}; top head: "
        f"attribution {roles.top_heads(attr, 1)[0][0]}, "
        f"exact {roles.top_heads(exact, 1)[0][0]}"
    )

# %% [markdown]
# The correlations above say how far the linear estimate can be trusted for
# this model. A large patch (the answer flips completely) is exactly where
# a first-order estimate is weakest, which is why the paper confirms with
# exact patching and ablation. Use attribution patching to decide where to
# look, and exact patching to decide what is true.
#
# ### Explore: every patching sweep
#
# Pick a task and a component (residual stream, attention output, MLP output,
# heads) and whether to patch one position at a time (on GPT-2 small, heads
# by position are blank between the changed member and the final position).

# %%
explorers.patching_explorer(patched, model)

# %% [markdown]
# On toy-seq, patching head 1.3 alone restores more than 0.9 of the answer
# in every task and no other head more than 0.05: one head carries the
# last member. Attribution patching agrees (correlation above 0.9, the same
# top head). GPT-2 small (paper): 9.1 restores 0.25 to 0.30, the rest is
# spread over many heads.
#
# ### Summary
# * Patching the clean activation into the corrupted run finds what carries
#   the last member's identity to the answer.
# * Attribution patching estimates all of it in one backward pass; check
#   its agreement before trusting it.

# %% [markdown]
# ## 5. Mean ablation
#
# Patching asks what carries the *difference* between two prompts. Ablation
# asks what the model *needs*: replace a component's output by its mean
# output over the reference prompts (random members, same template, same
# position) and see how much of the logit difference is left. The mean keeps
# the component's "typical" output, so we remove only what is specific to
# the prompt.
#
# ## Exercise 7 · A mean-ablation hook
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *fill in*
#
# Write the hook `mean_ablate_head(z, hook, head, mean)`: `z` is a layer's
# `hook_z`, `[batch, pos, n_heads, d_head]`, and `mean` is head `head`'s mean
# output over the reference prompts, `[pos, d_head]`. Return `z` with that
# head's output replaced by `mean` at every prompt and position.
#
# <details><summary>Hint</summary>
#
# Which axes of `z` does `mean` lack, and which does it have? Broadcasting
# fills in the one it lacks. Leave the other heads, and the tensor you were
# handed, as they were.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Clone `z` (so the cache is not changed under you), write the mean into the
# head's slice, `z[:, :, head] = mean` (it broadcasts over the batch), and
# return it. The other heads keep their output.
# </details>


# %% tags=["exercise"]
def mean_ablate_head(
    z: torch.Tensor, hook, head: int, mean: torch.Tensor
) -> torch.Tensor:
    """z with head `head` replaced by `mean` [pos, d_head] at every prompt."""
    # BEGIN SOLUTION
    z = z.clone()
    z[:, :, head] = mean
    return z
    # END SOLUTION


# %% tags=["check"]
check_mean_ablate_head(mean_ablate_head)

# %% [markdown]
# The library's `circuit_discovery.ablation_setup` takes the means per
# template and position, as the paper does, and `single_ablation_scores`
# ablates each head and MLP alone (many runs stacked in one batch). A score
# of 100% means the component can go; a low score means the model needs it.
# On the hand-built transformer (first line) the two planted heads should
# each take the whole answer and the bystanders nothing; then the lesson's
# model.
#
# The means come from every random prompt. The scores are means of the logit
# difference over the clean prompts: on a model as large as GPT-2 small,
# `study.ablation_setup` uses 12 per task, 4 per template (the paper's
# pruning used 1,536), so each score is noisier than the paper's; toy-seq
# uses every prompt. An ablated run is the clean run below its lowest
# ablated layer, so it starts there, and the last layer computes only the
# last position, the one the metric reads.

# %%
study.announce(model, data["numerals"], "ablation")
setups = {task: study.ablation_setup(model, data[task]) for task in TASKS}
single = {task: cd.single_ablation_scores(model, setups[task]) for task in TASKS}
hand_setup = cd.ablation_setup(
    hand, hand_data["numerals"].clean, hand_data["numerals"].random
)
hand_single = cd.single_ablation_scores(hand, hand_setup)
print(
    textwrap.fill(
        "hand-built, each component ablated alone keeps: "
        + ", ".join(f"{c} {round(v, 2) + 0.0:.0%}" for c, v in hand_single.items()),
        78,
        subsequent_indent="  ",
    )
)
print(f"{'component':<10}" + "".join(f"{t:>14}" for t in TASKS))
for comp in cd.all_components(model):
    if min(single[t][comp] for t in TASKS) < 0.97:  # the ones that matter
        print(f"{comp!s:<10}" + "".join(f"{single[t][comp]:>14.1%}" for t in TASKS))
others = [
    c for c in cd.all_components(model) if min(single[t][c] for t in TASKS) >= 0.97
]
print(f"{len(others)} other components keep at least 97% in every task.")

# %% [markdown]
# The paper's single ablations in GPT-2 small (1536 prompts per task):
# numerals lose 47% without head 7.11, 15% without 10.7, 14% without 1.5,
# 13% without 8.8 or 4.4, 9% without 9.1 (1.35% for the average head); number
# words lose 92% without 0.1, 62% without 7.11, 52% without 4.4, 30% without
# 9.1. MLP 0 and MLP 9 matter most among the MLPs (numerals keep 37% and 29%
# without them). On toy-seq, MLP 0 matters most (it leaves under a fifth in
# every task), then head 1.3, whose ablation costs at least 60% of the
# answer in every task; the first-member head 1.1 of section 3 is among the
# components that keep at least 97%: in the paper's prompts every member
# has the same format, so the format can be read from the others too.
#
# ### Do the other carriers back it up?
#
# One ablation at a time underestimates components that **back each other
# up**: if two heads do the same job, removing either one costs little. That
# is why circuits are found by removing components *cumulatively*. Section
# 3 showed more than one head attending to the last member. Call a head a
# **carrier** when its attention from the final position to the last member
# is at least half the strongest head's (averaged over the tasks). Ablate
# the strongest alone, the other carriers together, and all of them:


# %%
carriers = roles.carriers(model, data)
strongest = roles.strongest_carrier(model, data)
backups = [c for c in carriers if c != strongest]
print("carriers:", ", ".join(map(str, carriers)))
print(f"{'task':<14}{strongest!s:>8}{'the others':>12}{'all':>8}")
for task in TASKS:
    kept = (
        cd.ablated_logit_diffs(model, setups[task], [[strongest], backups, carriers])
        / setups[task].full
    )
    a, b, c = (float(v) for v in kept)
    print(f"{task:<14}{a:>8.0%}{b:>12.0%}{c:>8.0%}")

# %% [markdown]
# On toy-seq the carriers are 1.0, 1.2 and 1.3. The other two cost nothing
# when 1.3 is there (they keep at least 97% together), but with 1.3 gone,
# removing them as well takes at least another 8 points of every task: a
# weak backup, invisible to single ablations, which the cumulative pruning
# of section 6 has to handle.
#
# ### Zero, mean or resample?
#
# What should replace a component's output when we remove it? Three common
# answers:
#
# * **zero ablation** writes 0, a value the component may never produce: it
#   removes the component's information *and* its constant offset, which the
#   rest of the model may rely on;
# * **mean ablation** writes the mean over the reference prompts: it keeps
#   the offset and removes only what is specific to the prompt. The paper
#   uses it (after Wang et al. 2022);
# * **resampling ablation** writes the activation of *another* reference
#   prompt, row by row: realistic values, but they carry that prompt's own
#   member, information that points to a different answer, and the result
#   depends on which prompt was drawn (three draws below).
#
# ## Exercise 8 · Predict: zero or mean?
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *predict*
#
# Take the head patching ranks first. Will zero-ablating it keep `"more"`,
# `"less"` or `"about the same"` of the logit difference as mean-ablating
# it? Think about what each removes, then run the cell after.
#
# <details><summary>Hint</summary>
#
# Zero ablation removes everything mean ablation removes, and one thing
# more. When would that extra thing not matter?
# </details>


# %% tags=["exercise"]
def predict_zero_vs_mean() -> str:
    """Your prediction: zero ablation keeps "more", "less" or "about the same"."""
    # BEGIN SOLUTION
    return "less"  # it also removes the head's constant offset
    # END SOLUTION


# %% [markdown]
# They run on the prompts the single ablations used (`setups[task].dataset`).
# The mean here is one mean over all the reference prompts, where the table
# used one per template (the paper's recipe), so the mean row differs a little
# from the table's number.

# %%
top_head = Component.parse(roles.top_heads(patched["numerals"]["heads"], 1)[0][0])
kinds = attribution.ablation_kinds(
    model, top_head, setups["numerals"].dataset, data["numerals"].random
)
ratio = attribution.activation_norm_ratio(model, top_head, data["numerals"].random)
print(f"ablating {top_head} on the numerals (share of the logit difference kept)")
for kind, r in kinds.items():
    spread = f" ± {r['spread']:.3f} over 3 draws" if kind == "resample" else ""
    print(
        f"  {kind:<9}{r['kept']:>7.1%}{spread}; spread over prompts "
        f"{r['kept_row_std']:.2f}"
    )
print(f"|mean activation| / mean |activation| of {top_head}: {ratio:.2f}")

# %% tags=["check"]
gap = kinds["zero"]["kept"] - kinds["mean"]["kept"]
check_choice(
    predict_zero_vs_mean,
    ("more", "less", "about the same"),
    "about the same" if abs(gap) < 0.03 else "more" if gap > 0 else "less",
    f"zero keeps {kinds['zero']['kept']:.0%} and mean {kinds['mean']['kept']:.0%}; "
    "zero ablation also removes the head's constant offset, which the rest of "
    "the model reads.",
)

# %% [markdown]
# The norm ratio says how much of the head's output is a constant offset
# (near 1: mostly offset; 0: none), the part zero ablation removes and the
# other two keep. On toy-seq resampling takes the most: the other prompts' members
# push their own answers, on top of the loss of this prompt's information,
# and the result changes with the draw. The mean measures one thing, the
# information specific to the prompt, with no randomness: the reason the
# paper prunes with it.
#
# ### Summary
# * Mean ablation replaces a component by its average over random-member
#   prompts, per template and position.
# * Single ablations rank components but miss backups; ablate the
#   suspected backups together to see them.
# * Zero ablation removes a component's offset as well as its information;
#   resampling adds another prompt's information; the mean removes only
#   what is specific to the prompt.

# %% [markdown]
# ## 6. Circuit discovery: iterative node pruning
#
# The paper's algorithm (its `src/iter_node_pruning`): start from the whole
# model. Visit the components backward, from the last layer to the first (in
# each layer the MLP, then the heads), then forward. At each visit, mean-ablate
# the component *together with everything removed so far*; if the rest still
# keeps at least 80% of the full model's logit difference, remove it for
# good. Repeat until a pass removes nothing. What is left is the circuit.
#
# Two numbers judge it:
# * **faithfulness**: the circuit alone, everything else mean-ablated, should
#   keep at least 80% of the logit difference;
# * **knockout**: the model with only the circuit ablated should lose at
#   least 80% of it, or the circuit is not where the work happens.

# %% [markdown]
# ## Exercise 9 · The iterative pruning loop
#
# **Difficulty** ●●● · **Importance** ●●● · about 25 minutes · *fill in*
#
# Write the paper's loop, `iterative_prune(visit_order, performance,
# threshold=0.8)`:
#
# * `visit_order("backward")` and `visit_order("forward")` give the
#   components in the order to visit them (every head and MLP of the model);
# * `performance(circuit)` takes a set of components and returns the logit
#   difference of the model with *everything else* mean-ablated, as a share
#   of the full model's;
# * start with every component; visit backward, then forward; drop a
#   component for good when the circuit without it still keeps at least
#   `threshold`; repeat the two passes until a whole round removes nothing.
#   Return the circuit (a set of components).
#
# The check runs it on a made-up model with backup heads and components
# that only become removable after another is gone.
#
# <details><summary>Hint</summary>
#
# Keep one set, the circuit, and shrink it. A round is a backward pass then
# a forward pass; the loop ends after a round in which nothing was removed,
# so you need to know, at the end of each round, whether anything was.
# Each test asks about the circuit *as it is now*, without one more
# component.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Removals are cumulative (each test ablates the candidate together with
# everything removed so far) and the threshold is a share of the full
# model, so small losses add up and the loop stops before the total drops
# below 80%. The order decides which of two backup heads goes: the first one
# visited. Repeating until nothing changes catches components that become
# removable only once others are gone.
# </details>


# %% tags=["exercise"]
def iterative_prune(visit_order, performance, threshold=0.8):
    """The components kept by the paper's iterative node pruning."""
    # BEGIN SOLUTION
    circuit = set(visit_order("backward"))
    while True:
        changed = False
        for direction in ("backward", "forward"):
            for comp in visit_order(direction):
                if comp in circuit and performance(circuit - {comp}) >= threshold:
                    circuit.remove(comp)
                    changed = True
        if not changed:
            return circuit
    # END SOLUTION


# %% tags=["check"]
check_iterative_prune(iterative_prune)

# %% [markdown]
# The same loop is the library's `cd.iterative_prune`. On the model, with
# `cd.visit_order` and `cd.circuit_performance` (the numerals), and against
# the library's `prune_circuit` below:

# %%
mine = cd.iterative_prune(
    lambda direction: cd.visit_order(model, direction),
    lambda circuit: cd.circuit_performance(model, setups["numerals"], circuit),
)
print("the loop, numerals:", cd.format_circuit(mine))
hand_circuit = cd.iterative_prune(
    lambda direction: cd.visit_order(hand, direction),
    lambda circuit: cd.circuit_performance(hand, hand_setup, circuit),
)
print(
    "the loop on the hand-built transformer:",
    cd.format_circuit(hand_circuit),
    "(planted: heads 0.0, 1.0)",
)

# %% [markdown]
# The library's `prune_circuit` runs the same loop. The runs behind both
# cost less than whole passes: a candidate circuit (the current one without
# one component of layer L) is the current circuit below L, so its run
# starts at layer L from the current circuit's residual stream; and no set
# of ablated components is run twice, so `prune_circuit` on the numerals
# reads the runs the loop above made. Each pass shows a progress bar over
# the components it will visit; a pass that removes nothing ends the
# pruning.

# %% tags=["nbval-ignore-output"]
study.announce(model, data["numerals"], "pruning")
found = {
    task: cd.prune_circuit(model, setups[task], threshold=0.8, desc=task)
    for task in TASKS
}

# %%
circuits = {task: found[task].circuit for task in TASKS}
knockouts = {
    task: cd.knockout_comparison(model, setups[task], circuits[task], n_draws=20)
    for task in TASKS
}
for task in TASKS:
    print(f"{task:<13} {cd.format_circuit(circuits[task])}")
print()
print(
    figures.table(
        [
            (
                task,
                found[task].performance,
                knockouts[task].knockout,
                f"{knockouts[task].random_mean:.0%} ± {knockouts[task].random_std:.0%}",
            )
            for task in TASKS
        ],
        ["task", "alone keeps", "ablated keeps", "random sets of its size keep"],
        formats=["", ".1%", ".1%", ""],
    )
)
print(
    "prune_circuit finds the same numerals circuit as the loop:",
    set(circuits["numerals"]) == set(mine),
)
print("\nGPT-2 small (Lan et al. 2023), kept:")
for task in TASKS:
    kept = cd.PAPER_PERFORMANCE[task]
    text = (
        f"{task}: {cd.format_circuit(cd.paper_circuit(task))} "
        f"({'not recorded' if kept is None else f'{kept:.1%}'})"
    )
    print(textwrap.fill(text, 78, subsequent_indent="    "))

# %% [markdown]
# Read the table: each circuit, what it keeps alone, what the model
# keeps when the circuit alone is ablated, and what it keeps when 20 random
# sets of as many components are ablated instead (mean ± spread). The
# pruning guarantees the first number is at least 80% (it removes nothing
# that would take it lower). The second is a real test, but not on its own:
# ablating *any* large set, or any set that happens to hold MLP 0, also
# hurts. The random sets say what a knockout of that size does by chance;
# the circuit is where the work happens when its knockout keeps far less
# than they do.
#
# On toy-seq the three circuits are not the same: each holds head 1.3 and
# MLPs 0 and 1; beyond that the numerals add heads 2.1, 2.3 and 3.2 and MLP
# 2, the number words heads 2.1 and 2.2 and MLP 3, the months MLP 2 alone.
# Each keeps between 80% and 90% alone (pruning stops near
# the threshold); knocked out, each keeps at most a tenth, while the random
# sets of the same size keep at least 30 points more on average. The
# paper's GPT-2 small circuits keep 81% and hold most of the MLPs and 13 to
# 19 heads.
#
# The order of visits matters: of two heads that back each other up, the
# first one visited is removed and the second kept. Circuits found by
# pruning are *a* sufficient set, not *the* set.
#
# ### Summary
# * Iterative pruning removes components cumulatively while 80% of the logit
#   difference remains.
# * A circuit should pass faithfulness and knockout, and its knockout should
#   be set against random sets of its size.

# %% [markdown]
# ## 7. What the components do
#
# ### OV successor scores
#
# A head reads from the positions it attends to through its **OV circuit**,
# `W_V W_O`: it maps what sits at a member to what it writes at the final
# position. Gould et al. (2023) call a head a **successor head** when its OV
# circuit maps a member to its successor. Lan et al. test it like this: take
# each member as the head reads it, push it through the head's `W_V W_O`, the
# final LayerNorm and the unembedding, and count a success when the member's
# successor is among the top 5 tokens. Head 9.1 of GPT-2 small scores 87% on
# numerals, 91% on number words and 31% on months; the average head scores 3%.
#
# *As the head reads it* matters. A head of layer 0 reads the embedding; a
# head of a later layer reads the **effective embedding**, the member's
# residual stream after block 0 (block 0's MLP often finishes the embedding's
# job); and every head reads through its own LayerNorm, `ln1`.
# `roles.ov_inputs` gives, per layer, each member as that layer's heads read
# it: `[n_layers, 12, d_model]`. Feeding every head the same input (say,
# layer 0's) scores a later head on vectors it never sees.
#
# ## Exercise 10 · An OV successor score
#
# **Difficulty** ●●○ · **Importance** ●●● · about 10 minutes · *fill in*
#
# Write `ov_successor_score(inputs, layer, W_V, W_O, read, successor_ids,
# k=5)` for a head of layer `layer`: `inputs` is `[n_layers, n, d_model]`
# (per layer, one member per row, as that layer reads it), `W_V` is
# `[d_model, d_head]`, `W_O` is `[d_head, d_model]`, `read` maps `[n,
# d_model]` to logits `[n, d_vocab]` (final LayerNorm and unembedding), and
# `successor_ids` is each member's successor token. Return the share of rows
# whose successor is in the top `k` tokens.
#
# <details><summary>Hint</summary>
#
# Which block of `inputs` does a head of `layer` read? Push it through the
# OV circuit and `read`, then ask, row by row, whether that row's own
# successor is among its `k` largest logits (torch has a function for the
# `k` largest entries along an axis).
# </details>
#
# <details><summary>Solution explained</summary>
#
# `read(inputs[layer] @ W_V @ W_O)` is `[n, d_vocab]`; a hit is a row whose
# top-k tokens contain its successor: `(logits.topk(k, dim=-1).indices ==
# successor_ids[:, None]).any(-1)`. The score is the mean of the hits.
# </details>


# %% tags=["exercise"]
def ov_successor_score(inputs, layer, W_V, W_O, read, successor_ids, k=5) -> float:
    """Share of members whose OV output ranks their successor in the top k."""
    # BEGIN SOLUTION
    logits = read(
        inputs[layer] @ W_V @ W_O
    )  # [n, d_vocab]: the head's own layer's input
    top = logits.topk(k, dim=-1).indices  # [n, k]
    return (top == successor_ids[:, None]).any(-1).float().mean().item()
    # END SOLUTION


# %% tags=["check"]
check_ov_successor_score(ov_successor_score)

# %% [markdown]
# The library's `head_roles.ov_successor_scores` does it for every head,
# each with its own layer's input. The inputs are averaged over every clean
# and random prompt in which the member appears (the random prompts show all
# twelve members).
#
# How high is high? The paper's score asks for the successor among the top
# 5 of the whole vocabulary: 5 of GPT-2's 50,257 tokens, where a head that
# writes noise scores almost nothing (the paper's average head: 3%). toy-seq
# knows 174 tokens and 36 of them are members, so a head that merely writes
# "some member" already lands the successor in its top 5 now and then. So
# beside the paper's score we print a stricter one: is the successor the
# **top one among the task's 12 members**? By chance that happens 1 time in
# 12 (8%).

# %%
member_ids = {task: sequences.member_token_ids(model.tokenizer, task) for task in TASKS}
resid = {
    task: roles.ov_inputs(model, [data[task].clean, data[task].random])
    for task in TASKS
}
ov = {
    task: roles.ov_successor_scores(model, resid[task], member_ids[task])
    for task in TASKS
}
ov_members = {
    task: roles.ov_successor_scores(
        model, resid[task], member_ids[task], among_members=True
    )
    for task in TASKS
}
hand_ov = {
    task: roles.ov_successor_scores(
        hand,
        roles.ov_inputs(hand, [hand_data[task].clean, hand_data[task].random]),
        sequences.member_token_ids(hand.tokenizer, task),
        among_members=True,
    )
    for task in TASKS
}
print(
    "hand-built, top member is the successor, per head: "
    + ", ".join(
        f"{L}.{h} {min(hand_ov[t][L, h] for t in TASKS):.0%}"
        for L in range(2)
        for h in range(2)
    )
)
print(f"{'head':<8}{'top 5 of the vocabulary':^36}{'top member (chance 8%)':^36}")
print(f"{'':<8}" + "".join(f"{t[:10]:>12}" for t in TASKS) * 2)
best = sorted(
    (
        (sum(ov_members[t][L, h] for t in TASKS), L, h)
        for L in range(cfg.n_layers)
        for h in range(cfg.n_heads)
    ),
    reverse=True,
)[:4]
for _, L, h in best:
    print(
        f"{L}.{h:<6}"
        + "".join(f"{ov[t][L, h]:>12.0%}" for t in TASKS)
        + "".join(f"{ov_members[t][L, h]:>12.0%}" for t in TASKS)
    )
print(
    f"{'mean':<8}"
    + "".join(f"{ov[t].mean():>12.0%}" for t in TASKS)
    + "".join(f"{ov_members[t].mean():>12.0%}" for t in TASKS)
)
print("GPT-2 small (paper, top 5 of the vocabulary):")
for name, row in roles.PAPER_OV_SCORES.items():
    print(f"  {name:<18}" + "".join(f"{row[t]:>12.1%}" for t in TASKS))

# %% [markdown]
# The hand-built transformer first: its successor head 1.0 puts the
# successor on top for every member, and its other heads do no better than
# chance. On
# toy-seq the best head, 1.3, is the head that carries the last member
# (sections 3 to 5): its OV circuit puts the successor first among the
# members for more than 80% of them in every task, against 8% by chance,
# while the average head stays far lower. toy-seq's average head scores far
# above GPT-2's 3% on the paper's top-5 score: with so small a vocabulary,
# that score says little on its own, which is why the stricter one is
# beside it.
#
# Here is the mapping itself for the best head: for each member, the token
# its OV circuit writes most, among every token.

# %%
_, L_best, h_best = best[0]
for task in TASKS:
    top = roles.ov_top_tokens(model, L_best, h_best, resid[task], k=1)[:, 0]
    pairs = [
        f"{m}->{model.tokenizer.decode([int(t)]).strip()}"
        for m, t in zip(sequences.members(task), top.tolist(), strict=True)
        if t >= 0
    ]
    print(
        textwrap.fill(
            f"head {L_best}.{h_best}, {task}: " + " ".join(pairs),
            78,
            subsequent_indent="  ",
        )
    )

# %% [markdown]
# Look at the formats on the right of the arrows. Head 1.3 writes the next
# *value* (3 → 4, 4 → five, 5 → six, June → July) but in whichever format's
# token happens to win: its output says "the value after this one", not
# "the numeral after this one". That is what its training asked for. In a
# mixed story the last member's format says nothing about the answer's, so
# the head that moves the value need not move the format; section 3 found
# another head fetching the first member, and the MLPs after 1.3 write most
# of the logit difference (section 4). It is also a first sign that 1.3
# reads 5, five and May alike, the question of section 10.
#
# A head that attends to the last member *and* maps it to its successor
# does the whole "+1" in one step. In GPT-2 small head 9.1 has that OV
# circuit, yet mean-ablating it costs the numerals only 8.8% (the paper),
# while 7.11 costs 47%: a high successor score does not make a head the one
# the model cannot do without, and a head with a low score may still be
# essential as a mover. Which is the case for your model? The attention
# table (section 3) says which heads move the member, the ablation table
# (section 5) which ones matter, and this table which ones map it.
#
# ### MLP neurons
#
# The paper finds MLP 9 (right after the successor head) and MLP 0 among the
# most important components. What do MLP neurons respond to? For each
# neuron we measure its mean activation at the final position by task and by
# the last member shown, and split its variation into a part that depends
# only on the **member** (the same in every task: "the fourth member",
# whether 4, four or April), a part that depends only on the **task**, and a
# **mixed** rest. For the neurons that vary most we also show the member its
# output pushes up most (its output weights read through the unembedding,
# averaged over tasks): a neuron fired by member *m* that promotes member
# *m + 1* is "successor-like". A neuron whose two members had nothing to do
# with each other would be successor-like about 1 time in 12, so count the
# `True` rows against that.

# %%
both = {task: [data[task].clean, data[task].random] for task in TASKS}
circuit_mlps = sorted(
    {c.layer for c in cd.circuit_overlap(circuits) if c.kind == "mlp"}
    | {cfg.n_layers - 1}
)
for layer in circuit_mlps:
    profiles = roles.neuron_profiles(model, both, layer)
    reports = roles.neuron_reports(model, profiles, layer, member_ids, k=6)
    print(f"MLP {layer}: the 6 neurons that vary most at the final position")
    print(
        f"  {'neuron':>6} {'kind':>7} {'member':>7} {'task':>6} {'mixed':>6}  "
        f"{'fires most for':<24}{'pushes up':<24}successor?"
    )
    for r in reports:
        print(
            f"  {r.neuron:>6} {r.kind:>7} {r.member_share:>7.0%} {r.task_share:>6.0%} "
            f"{r.mixed_share:>6.0%}  {roles.describe_member(r.top_member):<24}"
            f"{roles.describe_member(r.boosted_member):<24}{r.successor_like}"
        )
    n_like = sum(r.successor_like for r in reports)
    print(f"  successor-like: {n_like} of 6 (by chance about 1 in 12: 0.5 of 6)")

# %% [markdown]
# The table lists, per MLP of the shared circuit (and the last MLP), the
# neurons that vary most, how their variation splits, and what they read and
# write. On toy-seq the neurons of MLP 0 that vary most are **task** neurons
# (most of their variation is which format the prompt is in): MLP 0 works
# out the format. In MLP 1, right after head 1.3, most are **member**
# neurons that respond to the same value in all three formats, and several
# are successor-like, more than chance would give: there the value moved by
# 1.3 is turned into a vote for the next one. Which neurons these are
# depends on the training seed; what the table measures is the kind.
#
# ### Summary
# * OV successor scores test whether a head's OV circuit maps a member to
#   the next; set them against chance (the top member among 12: 8%).
# * toy-seq's head 1.3 maps a value to the next value, whatever the format;
#   MLP 0 reads the format and MLP 1 holds value neurons shared by the
#   three formats.

# %% [markdown]
# ## 8. The shared sub-circuit
#
# ## Exercise 11 · The overlap of two circuits
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *fill in*
#
# Write `shared_components(circuit_a, circuit_b)`: the components in both
# circuits, each once, in model order (by layer; in a layer the heads by
# index, then the MLP). Components come as `Component`s or strings like
# `"9.1"` and `"MLP0"`; `Component.parse` turns either into a `Component`, and
# `cd.component_key` is the sort key.
#
# <details><summary>Hint</summary>
#
# "9.1" and `Component("head", 9, 1)` must count as the same component, so
# bring both circuits to one form before comparing them; a circuit may name
# a component twice, and the answer names it once.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Parse both sides into sets of `Component`s, intersect them, and sort the
# result with `key=cd.component_key`.
# </details>


# %% tags=["exercise"]
def shared_components(circuit_a, circuit_b) -> list:
    """The components in both circuits, once each, in model order."""
    # BEGIN SOLUTION
    a = {Component.parse(c) for c in circuit_a}
    b = {Component.parse(c) for c in circuit_b}
    return sorted(a & b, key=cd.component_key)
    # END SOLUTION


# %% tags=["check"]
check_shared_components(shared_components)

# %% [markdown]
# With the library's `circuit_overlap`, the components all three circuits
# share, and what that shared sub-circuit does **alone** in each task:

# %%
shared = cd.circuit_overlap(circuits)
print("shared by all three tasks:", cd.format_circuit(shared))
print(f"\n{'component':<10}" + "".join(f"{t:>14}" for t in TASKS))
for comp, inside in cd.membership_table(circuits):
    print(f"{comp!s:<10}" + "".join(f"{'x' if i else '.':>14}" for i in inside))
print(f"\n{'task':<14}{'shared alone keeps':>20}{'shared ablated keeps':>22}")
for task in TASKS:
    alone = cd.circuit_performance(model, setups[task], shared)
    gone = cd.knockout_performance(model, setups[task], shared)
    print(f"{task:<14}{alone:>20.1%}{gone:>22.1%}")
print(
    "\nGPT-2 small (paper), heads in all three circuits:",
    ", ".join(str(c) for c in paper_shared if c.kind == "head"),
)

# %% [markdown]
# The paper's three GPT-2 circuits share eight heads (0.1, 4.4, 6.1, 6.6,
# 6.10, 7.11, 8.8, 9.1, with the successor head 9.1 among them) and most
# MLPs; numerals and number words also share 1.5, 4.10, 8.1, 8.6 and 8.9.
# The printout above is the same analysis for your model: the membership
# table, and how much of each task the shared part recovers on its own
# (everything else mean-ablated) and how much is left without it. On
# toy-seq the three circuits share head 1.3 and MLPs 0 and 1; with them
# ablated, every task keeps under a tenth of its answer.
#
# ### Shared by function, not only by list
#
# An intersection of pruned circuits depends on the threshold and on the
# order of visits (section 6): a component can drop out of one circuit
# because a backup took its place. A definition that does not depend on
# pruning: a component is **shared** when the model needs it in every task,
# here when ablating it alone costs at least a fifth of the answer in each
# task (section 5's scores), or when patching it restores at least a fifth
# in each (section 4's).

# %%
needed = {
    comp
    for comp in cd.all_components(model)
    if min(1 - single[t][comp] for t in TASKS) >= 0.2
}
restores = {
    Component("head", L, h)
    for L in range(cfg.n_layers)
    for h in range(cfg.n_heads)
    if min(float(patched[t]["heads"][L, h]) for t in TASKS) >= 0.2
}
print("costs at least a fifth of every task:", cd.format_circuit(needed))
print("restores at least a fifth of every task:", cd.format_circuit(restores))
print("in all three pruned circuits:        ", cd.format_circuit(shared))

# %% [markdown]
# On toy-seq the functional definition and the intersection agree on the
# head: 1.3 is needed in every task, restores the answer in every task and
# is in every circuit. The MLPs show the difference: MLP 0 is needed
# everywhere, while MLP 1, in every pruned circuit, costs less than a fifth
# of some task when ablated alone. GPT-2 small's 9.1 would pass the
# patching test (0.24 to 0.30 in every task) but not the ablation one
# (mean-ablating it costs the numerals 8.8%).
#
# ### Summary
# * The overlap of the circuits is the sub-circuit the tasks share; run
#   alone, it tells you how much of each task is done by shared machinery.
# * "Shared" can also be defined by what the model needs in every task,
#   which does not depend on the pruning's threshold or order.

# %% [markdown]
# ## 9. Circuit surgery
#
# If the tasks share machinery, an edit to it made for one task should
# change the others too. Here is the edit. Take the heads that carry the
# last member to the final position (the carriers of section 5). For each
# member token, measure each carrier's mean value vector, and give the head,
# wherever that token appears, the value of the member **two places
# earlier** instead (`shift=-2`). If the model answers "the successor of
# what these heads carry", it will now answer the successor of the member
# two before the last: the last member's **predecessor**. Tokens that are
# not members get no correction.
#
# The test that matters is **transfer**: measure the corrections on
# numerals alone, apply them (by member index) to five and May as well as
# to 5, and see whether number words and months move too. They move only if
# the carriers' values of 5, five and May differ from those of 3, three and
# March in the same way. (Measuring each task's corrections on that task's
# own prompts and applying all three at once would move all three tasks
# whether anything is shared or not; that is three edits, not one.)
#
# ## Exercise 12 · The surgery's corrections
#
# **Difficulty** ●●○ · **Importance** ●●○ · about 15 minutes · *fill in*
#
# The edit is a table of corrections, one per member and head. For one
# head and one task, `value_means` is `[12, d_head]`: the head's mean value
# vector at each member (a row of NaN for a member never seen). Write
# `shift_corrections(value_means, shift)`: row *m* is `value_means[m +
# shift] - value_means[m]` when both rows exist, and 0 otherwise (no
# wrap-around past the first or twelfth member).
#
# <details><summary>Hint</summary>
#
# Work row by row. For each member *m* there are three ways to have no
# target: *m* + `shift` below the first member, above the twelfth, or a
# row of either member that was never measured (NaN). A correction is
# "where it should be, minus where it is".
# </details>
#
# <details><summary>Solution explained</summary>
#
# Adding `mean[m + shift] - mean[m]` to the head's value at member *m* makes
# it, on average, the value the head computes at member *m + shift*:
# downstream, the head now carries the other member. Target minus source,
# and nothing for members with no target.
# </details>


# %% tags=["exercise"]
def shift_corrections(value_means, shift):
    """Row m: value_means[m + shift] - value_means[m], or 0 without a target."""
    # BEGIN SOLUTION
    out = torch.zeros_like(value_means)
    for m in range(value_means.shape[0]):
        t = m + shift
        if 0 <= t < value_means.shape[0] and not (
            value_means[m].isnan().any() or value_means[t].isnan().any()
        ):
            out[m] = value_means[t] - value_means[m]
    return out
    # END SOLUTION


# %% tags=["check"]
check_shift_corrections(shift_corrections)

# %% [markdown]
# `surgery.fit_member_shift` computes these corrections for every carrier,
# measured per member *index* on the prompts it is given (here the
# numerals' clean and random prompts), and adds them to the member tokens of
# every task by index: the correction measured between 5 and 3 goes to five
# and to May too. It is tested on new prompts (seed 7) of all three tasks.
# What these tests report is the share of prompts whose top answer moves,
# so on a model as large as GPT-2 small this section and the next test
# their edits on 24 prompts per task, 8 per template (`study.analysis_rows`
# with `"edits"`); toy-seq uses every prompt.
#
# Three models, one experiment. The hand-built transformer first: its mover
# carries a member's index in dimensions the three tasks share, so the
# transfer must be complete. Then toy-seq; then its twin toy-seq-separate,
# the same design trained on one format per story, which has its own
# carriers. Before you run it, decide what you expect of each.

# %%
study.announce(model, data["numerals"], "surgery")
separate = load_model("toy-seq-separate", verbose=False)
separate_data, _ = study.build_task_data(separate)


def numerals_fit(m, task_data, heads):
    """The edit measured on numerals alone, applied by index to every task."""
    fit_on = [task_data["numerals"].clean, task_data["numerals"].random]
    return surgery.fit_member_shift(m, heads, fit_on, shift=-2)


models = {"hand-built": (hand, hand_data), NAME: (model, data)}
if NAME != "toy-seq":  # the toy pair is the experiment on the data
    toy = load_model("toy-seq", verbose=False)
    models["toy-seq"] = (toy, study.build_task_data(toy)[0])
models["toy-seq-separate"] = (separate, separate_data)
transfer, tests = {}, {}
print(f"{'model':<18}{'task':<14}{'successor on top':>18}{'predecessor on top':>20}")
for label, (m, task_data) in study.each_model(models):
    heads = [hb.MOVER] if label == "hand-built" else roles.carriers(m, task_data)
    edit = numerals_fit(m, task_data, heads)
    fresh, _ = study.build_task_data(m, seed=7)
    tests[label] = {t: study.analysis_rows(m, fresh[t], "edits") for t in TASKS}
    transfer[label] = {
        t: surgery.sequence_effect(m, edit, tests[label][t].clean) for t in TASKS
    }
    for task in TASKS:
        e = transfer[label][task]
        print(
            f"{label:<18}{task:<14}{e['successor_before']:>8.0%} -> "
            f"{e['successor_after']:<7.0%}{e['shifted_after']:>16.0%}"
        )
    print(f"{'':<18}(edited heads: {', '.join(map(str, heads))})")

# %% [markdown]
# The hand-built transformer moves all three tasks to the predecessor, as
# its construction says it must. toy-seq does the same: a correction
# measured on numerals alone moves number words and months on at least 90%
# of the new prompts, so its carriers hold 5, five and May as one value.
# toy-seq-separate moves its numerals and nothing else (the predecessor
# reaches the top on none of the other tasks' prompts): the same experiment,
# the same architecture, a different answer, and the only difference is the
# data. Section 10 asks the residual stream directly, and why.
#
# (Lan et al. do not report this transfer for GPT-2 small. Gould et al.
# 2023 edit GPT-2's successor heads with vector arithmetic on features
# shared by numbers, number words and months, the published analogue.)
#
# ### Does the edit need every carrier?
#
# Section 5 found backups beside the strongest carrier. The numerals' edit
# applied to the carriers in the shared circuit only:

# %%
shared_carriers = [c for c in carriers if c in shared]
only_shared = numerals_fit(model, data, shared_carriers)
for task in TASKS:
    e = surgery.sequence_effect(model, only_shared, tests[NAME][task].clean)
    print(
        f"{', '.join(map(str, shared_carriers)):<10}{task:<14}"
        f"predecessor on top {e['shifted_after']:.0%}, successor {e['successor_after']:.0%}"
    )

# %% [markdown]
# On toy-seq the shared carrier 1.3 alone does nearly the whole job: the
# predecessor is on top in at least 90% of every task's prompts. Where the
# successor survives (a few months prompts), a carrier outside the shared
# circuit (a backup, which pruning can drop because one carrier was
# enough) keeps voting for it.
#
# ### Does it touch members outside a sequence?
#
# The edit corrects member tokens wherever they stand. A prompt with no
# member at all runs exactly as before, by construction, so that proves
# nothing. The real question is a member the model meets *outside* a
# sequence: stories of nouns with one member among them ("... Sun was born
# in May. ..."). Does the edit change what the model predicts there?

# %%
numerals_edit = numerals_fit(model, data, carriers)
for task in TASKS:
    outside = surgery.member_outside_dataset(
        model.tokenizer, task, n=study.analysis_size(model, "edits"), seed=5
    )
    change = surgery.distribution_change(model, numerals_edit, outside.tokens, "all")
    print(
        f"{task:<14}same top-1 at every position {change['same_top1']:.1%}, "
        f"mean KL {change['mean_kl']:.3f}, largest probability change "
        f"{change['max_prob_change']:.2f}"
    )
print(textwrap.fill(f"e.g. {outside.prompts[0]}", 78, subsequent_indent="     "))

# %% [markdown]
# The edit is not surgical in that sense: wherever a member stands, the
# carriers now read it as another one, in a sequence or not, and on toy-seq
# about one prediction in eight changes its top token. An edit of the
# *value* is an edit of what the model knows about that token everywhere;
# to confine it to sequences one would have to condition it on the
# context, which this edit does not do.
#
# ### Summary
# * An edit fitted on numerals alone, to the heads that carry the last
#   member, moves number words and months on toy-seq: the carriers code the
#   value the same way in every format. It moves nothing but the numerals
#   on toy-seq-separate.
# * The edit acts on member tokens everywhere, not only in sequences.

# %% [markdown]
# ## 10. One is 1: the same value in three formats?
#
# Lan, Torr and Barez began with a simpler question ("One is 1"): does GPT-2
# represent 1, one and January alike? Lesson 01 (section 6) argued when a
# model should: when it must read the same property (the value) the same way
# from different kinds of token, and another property (the format)
# independently, a shared readout is cheaper than a lookup table, and its
# embeddings become sums of a value part and a format part. toy-seq's mixed
# stories ask exactly that; toy-seq-separate's stories never do. Here we
# test the prediction on both, and on the hand-built transformer, whose
# value code is shared by construction (its mover copies the index into the
# same dimensions for every task), as the positive control.
#
# At every member's position we take the residual stream before each block
# and after the last, and average it per format (numerals, number words,
# months) and value (1 to 12) over the random prompts, which show every
# value at every place: `rep.member_streams` gives `[n_depths, 3, 12,
# d_model]`.
#
# Raw residual vectors all share a large common part (the same position, the
# same template), so every pair looks similar; and every number word shares
# "I am a number word", every month "I am a month". The question is about
# how the *values* differ, so centre each format on its own mean over its
# 12 values before comparing.
#
# ## Exercise 13 · The same value across formats, layer by layer
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 10 minutes · *fill in*
#
# Write `format_similarity(streams, f, g)`: `streams` is `[n_depths, 3, 12,
# d_model]`; centre each format at each depth on its own mean over the 12
# values, then return, per depth, the cosine similarity of format `f`'s and
# format `g`'s vectors of the same value, averaged over the 12 values
# (`[n_depths]`).
#
# <details><summary>Hint</summary>
#
# Which axis holds the 12 values? That is the axis to average over when
# centring (keep it in the result's shape so the subtraction lines up).
# Then compare the two formats value by value along `d_model`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# `streams - streams.mean(2, keepdim=True)` centres every format on its own
# mean; `torch.nn.functional.cosine_similarity(c[:, f], c[:, g], dim=-1)`
# is `[n_depths, 12]`; its mean over the values is the answer. The baseline
# is the cosine between *different* values.
# </details>


# %% tags=["exercise"]
def format_similarity(streams, f, g):
    """Mean cosine of the same value in formats f and g, per depth, each format centred [n_depths]."""
    # BEGIN SOLUTION
    centred = streams - streams.mean(2, keepdim=True)
    cos = torch.nn.functional.cosine_similarity(centred[:, f], centred[:, g], dim=-1)
    return cos.mean(-1)
    # END SOLUTION


# %% tags=["check"]
check_format_similarity(format_similarity)

# %% [markdown]
# The library's `rep.centre_by_format` and `rep.cosine_by_layer` are the
# same computation. On the three models, at the depth where the carriers
# read the member (just before the block of the strongest carrier):
# the same value in two formats, against two different values.

# %%

streams_of, layer_of = {}, {}
print(f"{'model':<18}{'depth':>6}  {'numerals~words':>16}{'numerals~months':>17}")
for label, (m, task_data) in study.each_model(models):
    streams_of[label] = rep.member_streams(m, task_data)  # [depths, 3, 12, d]
    layer_of[label] = roles.strongest_carrier(m, task_data).layer
    c = rep.centre_by_format(streams_of[label])[layer_of[label]]  # [3, 12, d]
    cells = [
        f"{float(rep.cosine_by_layer(c[None, 0], c[None, g])):+.2f} | "
        f"{float(rep.mismatched_cosine(c[None, 0], c[None, g])):+.2f}"
        for g in (1, 2)
    ]
    print(f"{label:<18}{layer_of[label]:>6}  {cells[0]:>16}{cells[1]:>17}")
print("(same value | different values; depth = before that block)")

# %% [markdown]
# The hand-built transformer's same-value cosine is 1: its value code is
# shared exactly. toy-seq's is far above its different-value baseline (above
# 0.7 against below 0); toy-seq-separate's is barely above its own (below
# 0.2). And layer by layer, on the lesson's model:

# %%
centred = rep.centre_by_format(streams_of[NAME])
depths = [f"before block {L}" for L in range(cfg.n_layers)] + ["after the last"]
pairs = [(0, 1), (0, 2), (1, 2)]
print(
    f"{'depth':<16}"
    + "".join(f"{TASKS[f][:6]}~{TASKS[g][:6]:<8}" for f, g in pairs)
    + "  (same value | different values)"
)
for d, label in enumerate(depths):
    cells = []
    for f, g in pairs:
        same = rep.cosine_by_layer(centred[:, f], centred[:, g])[d]
        diff = rep.mismatched_cosine(centred[:, f], centred[:, g])[d]
        cells.append(f"{same:+.2f}|{diff:+.2f}    ")
    print(f"{label:<16}" + "".join(cells))

# %% [markdown]
# A picture of the same vectors: the 36 centred members just before the
# carriers' block, in the plane of their two largest principal components,
# coloured by value (left) and by format (right), one marker per format. If
# the formats share a value code, the colours on the left run the same way
# for all three markers and the formats mix on the right.

# %%
depth = layer_of[NAME]
points, kept_var = rep.pca_2d(centred[depth].flatten(0, 1))
draw_member_pca(points, TASKS, title=f"{depths[depth]}: {kept_var:.0%} of the variance")
plt.show()

# %% [markdown]
# ### A linear probe for a member's value
#
# A **probe** is a linear map trained to read one property from the
# residual stream. Here it reads a member's value (one of 12 classes, the
# same for 5, five and May), fitted on numerals only, each format centred on
# its own mean, and read on new prompts of every format. If the formats
# share a value code, the probe fitted on numerals reads number words and
# months too. Chance is 1 in 12 (8%).
#
# A probe can read many things, so it needs a control that could come out
# differently: the same probe, fitted on the same numerals, with their
# values **shuffled** across the prompts. It finds a code for value only if
# there is one; fitted on shuffled values there is nothing to find, and it
# must read chance everywhere.

# %%
probe = rep.value_probe_transfer(model, data)  # one dict per depth
control = rep.value_probe_transfer(model, data, shuffled=True)
print(f"{'depth':<16}" + "".join(f"{t:>14}" for t in TASKS) + "   shuffled control")
for d, label in enumerate(depths):
    print(
        f"{label:<16}"
        + "".join(f"{probe[d][t]:>14.0%}" for t in TASKS)
        + "   "
        + " ".join(f"{control[d][t]:.0%}" for t in TASKS)
    )
for label in ("hand-built", "toy-seq-separate"):
    m, task_data = models[label]
    at = rep.value_probe_transfer(m, task_data)[layer_of[label]]
    print(
        f"{label}, {depths[layer_of[label]]}: "
        + ", ".join(f"{t} {at[t]:.0%}" for t in TASKS)
    )

# %% [markdown]
# On toy-seq, before block 1 the numerals' probe reads number words and
# months on more than half of the new prompts, while the shuffled control
# stays near chance (at most 10%) on number words and months at every
# depth. The hand-built transformer's probe reads all three formats
# perfectly; toy-seq-separate's reads its numerals and falls to chance on
# the other two.
#
# ### Value-subspace patching: the causal test
#
# Cosines and probes describe the residual stream; they do not show that
# the model *uses* what they find. The causal form of "One is 1": find,
# from the numerals alone, the few directions along which the 12 numerals
# differ (the top principal directions of their centred value means, as
# few as explain 95% of the variance: `rep.value_subspace`); then, at the
# last member of a number-words prompt, replace the stream's part in those
# directions by the same part from a numerals prompt whose last member has
# another value, and leave everything else. If 5, five and May share the
# code, the model now answers the *numeral's* successor, in the number
# words' format.
#
# Why not patch the whole residual stream? A model trained on mixed
# stories reads any format's token at that position: patching in "7"
# whole would make it answer "eight" whether its codes are shared or not.
# Only a patch restricted to directions found from numerals alone can tell
# the two apart.
#
# ## Exercise 14 · Patch a subspace
#
# **Difficulty** ●●○ · **Importance** ●●● · about 15 minutes · *fill in*
#
# Write `patch_subspace(target, source, basis)`: `target` and `source` are
# `[n, d_model]` (one row per prompt), `basis` is `[k, d_model]` with
# orthonormal rows. Return the target with its part in the basis's span
# replaced by the source's part, and everything outside the span kept.
#
# <details><summary>Hint</summary>
#
# Any vector splits into a part in the span and a part outside it. With
# orthonormal rows, a vector's coordinates along the basis are dot
# products with the rows, and the part in the span is those coordinates
# put back together with the same rows. Which part of which vector goes
# into the result?
# </details>
#
# <details><summary>Solution explained</summary>
#
# With `P = basis.T @ basis` (the projection onto the span), the result is
# `target - target @ P + source @ P`: the target's part outside the span,
# plus the source's part inside it.
# </details>


# %% tags=["exercise"]
def patch_subspace(target, source, basis):
    """target with its part in the basis's span replaced by source's [n, d_model]."""
    # BEGIN SOLUTION
    P = basis.T @ basis  # [d_model, d_model]: projection onto the span
    return target - target @ P + source @ P
    # END SOLUTION


# %% tags=["check"]
check_patch_subspace(patch_subspace)

# %% [markdown]
# `rep.subspace_patch_effect` applies the library's `rep.patch_subspace` in
# a hook, before the carriers' block, at the last member. Each target prompt
# takes its patch from a numerals prompt whose last member has another
# value. "source" is the share of prompts that now answer the numeral's
# successor in the target's format, "own" the share still answering their
# own. The control: a random subspace of the same size.

# %%
print(
    f"{'model':<18}{'k':>3}  {'into':<14}{'source':>8}{'own':>6}"
    f"{'random k: source':>19}{'own':>6}"
)
subspace_effect = {}
for label, (m, task_data) in study.each_model(models):
    L = layer_of[label]
    basis = rep.value_subspace(streams_of[label][L, 0])  # numerals' values only
    control_basis = rep.random_subspace(basis.shape[0], m.cfg.d_model)
    rows = {t: study.analysis_rows(m, task_data[t], "edits") for t in TASKS}
    source = rows["numerals"].clean
    for task in TASKS:
        target = rows[task].clean
        e = rep.subspace_patch_effect(m, source, target, L, basis)
        r = rep.subspace_patch_effect(m, source, target, L, control_basis)
        subspace_effect[label, task] = e
        print(
            f"{label:<18}{basis.shape[0]:>3}  {task:<14}{e['source']:>8.0%}"
            f"{e['own']:>6.0%}{r['source']:>19.0%}{r['own']:>6.0%}"
        )

# %% [markdown]
# On the hand-built transformer and on toy-seq, the numerals' few value
# directions carry the value into number words and months: nearly every
# prompt answers the numeral's successor, in its own format, while a random
# subspace of the same size changes nothing. On toy-seq-separate the same
# patch moves the numerals (its directions are the numerals' own) and never
# makes number words or months answer the numeral's successor: its formats
# keep their values in different places.
#
# ### A "+1" step, and steering with it
#
# If the value code is shared, one step of it, from a numeral to the next,
# should also be a step for number words and months. **Activation
# addition** (Turner et al. 2023) tests it: add the step at the last member,
# before the carriers' block, and see whether the model answers one further
# ("+2": the member after the answer).
#
# Which step? A tempting choice is one "+1" direction: the mean over the
# 11 steps from each numeral's mean vector to the next one's.
#
# ## Exercise 15 · Predict: the mean step
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes · *predict*
#
# Write the mean of the 11 steps `s[v + 1] - s[v]`, v = 1 .. 11, as simply
# as you can. Is it `"one real step"` (about as long as a typical step from
# one member to the next), `"a small fraction of a step"`, or `"zero"`?
#
# <details><summary>Hint</summary>
#
# Write the sum of the 11 steps out in full. What cancels?
# </details>


# %% tags=["exercise"]
def predict_mean_step() -> str:
    """Your prediction: "one real step", "a small fraction of a step" or "zero"."""
    # BEGIN SOLUTION
    return "a small fraction of a step"  # the sum telescopes to s[12] - s[1]
    # END SOLUTION


# %%
values = streams_of[NAME][layer_of[NAME], 0]  # numerals' means [12, d_model]
steps = values[1:] - values[:-1]  # the 11 real steps
mean_step = steps.mean(0)
print(f"length of the mean step:    {float(mean_step.norm()):.2f}")
print(f"length of (s12 - s1) / 11:  {float((values[-1] - values[0]).norm() / 11):.2f}")
print(f"typical length of one real step: {float(steps.norm(dim=-1).median()):.2f}")

# %% tags=["check"]
ratio_to_step = float(mean_step.norm() / steps.norm(dim=-1).median())
check_choice(
    predict_mean_step,
    ("one real step", "a small fraction of a step", "zero"),
    "a small fraction of a step" if 0.01 < ratio_to_step < 0.5 else "one real step",
    f"the steps telescope to (s12 - s1) / 11, here {ratio_to_step:.0%} of a "
    "typical step: added to the stream it moves almost nothing.",
)

# %% [markdown]
# So steer with real steps instead: each prompt whose last member has
# value v gets the numerals' own step from v to v + 1, at its own size
# (`rep.step_steering`). On numerals that should move the answer one
# further; on number words and months it does so only if the numerals'
# step is their step too.

# %%
print(f"{'model':<18}{'task':<14}{'+2 on top':>10}{'answer on top':>15}")
steering = {}
for label, (m, task_data) in study.each_model(models):
    L = layer_of[label]
    for task in TASKS:
        d = study.analysis_rows(m, task_data[task], "edits").clean
        r = rep.step_steering(m, d, streams_of[label][L, 0], L)
        steering[label, task] = r
        print(f"{label:<18}{task:<14}{r['plus_two']:>10.0%}{r['answer']:>15.0%}")

# %% [markdown]
# Every test of this section agrees. On the hand-built transformer, where
# the value code is shared by construction, every method detects it. On
# toy-seq, the numerals' step moves number words and months one further on
# most prompts; on toy-seq-separate it moves the numerals only.
#
# **The cause is the data.** The two toy models have the same design and
# were trained the same way; only toy-seq's stories mix the formats, with the
# answer's format cued by the first member. To continue such a story the
# model must read the value from the last member whatever its format, so
# one value code for 5, five and May is the cheap solution, and that is what
# it learned (lesson 01's argument). toy-seq-separate never needed to read
# five as 5, and it did not: it shares *circuitry* with toy-seq (a head in
# layer 1 that moves the last member, an MLP 0 that matters most) without
# sharing the *representation*. GPT-2 read "5", "five" and "May" in
# overlapping contexts for billions of tokens; Gould et al. (2023) found
# mod-10 features shared by numbers, number words and months in its
# successor heads, and edited those heads by vector arithmetic on them.
# With GPT-2's weights on your machine, this section runs on it too.
#
# ### Summary
# * Centre each format on its own mean before comparing values across
#   formats; a random-label probe and a random subspace are the controls.
# * Value-subspace patching is the causal test of a shared code; a
#   whole-stream patch is not, on a model that reads every format.
# * The mean of consecutive steps telescopes; steer with real steps.
# * toy-seq, trained on stories where the formats meet, codes 5, five and
#   May alike; toy-seq-separate, trained on one format per story, does not.

# %% [markdown]
# ## Closing note: what we found
#
# The cell below prints, from the numbers computed above, the three
# circuits, what they share, and the three tests of a shared value code,
# on every model of this section.

# %%
print(f"model: {NAME}")
for task in TASKS:
    print(
        f"{task:<13} {cd.format_circuit(circuits[task])}: alone "
        f"{found[task].performance:.1%}, ablated {knockouts[task].knockout:.1%}"
    )
print("shared:       ", cd.format_circuit(shared))
print(
    f"\n{'numerals -> words / months':<28}{'surgery':>16}{'subspace':>16}"
    f"{'steering':>16}"
)
for label in models:
    cells = [
        " / ".join(f"{transfer[label][t]['shifted_after']:.0%}" for t in TASKS[1:]),
        " / ".join(f"{subspace_effect[label, t]['source']:.0%}" for t in TASKS[1:]),
        " / ".join(f"{steering[label, t]['plus_two']:.0%}" for t in TASKS[1:]),
    ]
    print(f"{label:<28}" + "".join(f"{c:>16}" for c in cells))

# %% [markdown]
# ## Summary
#
# * The hand-built transformer, whose circuit is known, is where every
#   method is checked first; each method here recovers what was built into
#   it.
# * The logit difference (correct minus the last member repeated) measures
#   the task; clean and corrupted prompts differ in one token.
# * The logit lens, attention patterns and activation patching locate where
#   the last member is read and moved; attribution patching approximates
#   patching in one backward pass.
# * Mean ablation and the paper's iterative pruning find a circuit per task
#   that keeps at least 80% of the logit difference; knocking it out, beside
#   random sets of its size, tests that the work happens there.
# * OV successor scores (against chance) and neuron analysis say what the
#   parts do: move the value, map it to the next value, supply the format.
# * Direct logit attribution splits the answer into what each component
#   writes; zero, mean and resampling ablation remove different things, and
#   the mean removes only what is specific to the prompt.
# * toy-seq's three circuits differ but share a successor head and two MLPs;
#   an edit fitted on numerals alone moves all three tasks.
# * Whether 5, five and May share a representation is a separate question,
#   answered by probes with controls, value-subspace patching and steering
#   with real steps: yes on toy-seq, no on toy-seq-separate, and the
#   difference is in the training data.
#
# ## Further exercises
#
# 1. Change the threshold of `prune_circuit` to 0.7 and 0.9. How do the
#    circuits and their overlap change?
# 2. Prune with the forward pass first. Do backup heads swap in the circuit?
# 3. Try `shift=+1` in the surgery: can you make the model skip a member?
# 4. Build a decreasing-sequence dataset ("5 4 3 2" -> "1", using only the
#    members 1-12) with `sequences.make_prompt`, and test whether
#    the same heads matter. What would you expect from toy-seq, which never
#    saw a decreasing sequence?
# 5. With GPT-2 small's weights on your machine, run the lesson again: does
#    your circuit match the paper's table, and does GPT-2 pass section 10's
#    tests?
# 6. Value-subspace patching with fewer directions: how few of the
#    numerals' directions still carry the value into number words on
#    toy-seq (`rep.value_subspace(..., variance=0.5)`)?
# 7. Mixed prompts: write a prompt whose members change format ("in 3. ...
#    in four. ... in May. ... in") and check that toy-seq answers in the
#    first member's format. Which head do you expect to matter most there
#    that did not matter in the paper's prompts?
#
# ## Reading
#
# * Nelson Elhage, Neel Nanda, Catherine Olsson et al., *A Mathematical
#   Framework for Transformer Circuits* (Transformer Circuits Thread, 2021),
#   for the residual stream, QK and OV circuits, composition and direct
#   logit attribution.
# * Alexander Matt Turner, Lisa Thiergart, David Udell et al., *Activation
#   Addition: Steering Language Models Without Optimization* (arXiv
#   2308.10248, 2023).
# * Michael Lan, Philip Torr, Fazl Barez, *Towards Interpretable Sequence
#   Continuation: Analyzing Shared Circuits in Large Language Models*
#   (arXiv 2311.04131), the source of the method, the templates and every
#   GPT-2 small number quoted here.
# * Rhys Gould, Euan Ong, George Ogden, Arthur Conmy, *Successor Heads:
#   Recurring, Interpretable Attention Heads In The Wild* (arXiv 2312.09230).
# * Kevin Wang, Alexandre Variengien, Arthur Conmy, Buck Shlegeris, Jacob
#   Steinhardt, *Interpretability in the Wild: a Circuit for Indirect Object
#   Identification in GPT-2 small* (arXiv 2211.00593), for patching, mean
#   ablation and backup heads.
# * Neel Nanda, *Attribution Patching: Activation Patching At Industrial
#   Scale* (2023).
# * nostalgebraist, *interpreting GPT: the logit lens* (2020).
