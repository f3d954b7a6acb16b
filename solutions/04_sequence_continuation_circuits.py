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
# 0. a transformer from lesson 01's linear algebra: the residual stream, one
#    head as a QK and an OV circuit, LayerNorm, hooks, and a head you set by
#    hand;
# 1. the task, the data and the metric;
# 2. the logit lens: at which layer the answer appears;
# 3. attention patterns: which heads look at which member;
# 4. activation patching, exact and attribution (its fast approximation);
# 5. mean ablation of each head and MLP;
# 6. circuit discovery by the paper's iterative pruning;
# 7. what the components do: OV successor scores and MLP neurons;
# 8. the overlap of the three circuits, the shared sub-circuit;
# 9. circuit surgery: one edit that changes all three tasks at once;
# 10. "One is 1": do 5, five and May share a representation?
#
# **Which model?** The paper studies GPT-2 small. Its weights are 500 MB from
# the Hugging Face hub, which many learners (and this course's test machines)
# cannot reach. So the lesson runs on `load_model("auto")`: GPT-2 small when
# its weights are on your machine, otherwise **toy-seq**, a small transformer
# the course trained on the paper's templates. Every cell is the same for
# both. Every finding is set beside the paper's GPT-2 small results. And on
# toy-seq we can do what the paper could not: check the findings against
# ground truth, because we wrote the data the model learned from.
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
# rows per task before filtering, 32 per template).

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
# ## Exercise 3 · The logit-difference metric
#
# **Difficulty** ●○○ · **Importance** ●●● · about 5 minutes
#
# Write `logit_diff_metric(logits, answers, wrong_answers)`: `logits` has shape
# `[batch, pos, d_vocab]`, `answers` and `wrong_answers` hold one token id per
# prompt. Return one number, a 0-d tensor.
#
# <details><summary>Hint</summary>
#
# The next token is predicted at the last position: `logits[:, -1]`, shape
# `[batch, d_vocab]`. Pick each row's entry with
# `last[torch.arange(batch), answers]`.
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
# The library's version is `sequences.logit_diff(logits, dataset)`. With it,
# the model's accuracy and logit difference on each task, clean and
# corrupted. The metric reads the last position only, so
# `sequences.last_logits` unembeds that position alone: with GPT-2's 50,257
# tokens, unembedding every position costs about half as much as all twelve
# blocks together. `clean_last_logits` also remembers the result, since
# later sections read the same clean runs.


# %%
def metric_for(dataset):
    """The logit difference on `dataset`, as a function of the logits."""
    return lambda logits: sequences.logit_diff(logits, dataset)


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
    print(f"{task:<14}{acc:>14.1%}{clean_ld:>10.2f}{corr_ld:>11.2f}")

# %% [markdown]
# On the corrupted prompts the logit difference turns negative: the model
# now prefers the member the clean metric calls incorrect, the successor of
# the repeated member. That is what makes the pair useful for patching: the
# two runs differ in one token and give opposite answers. (In GPT-2 small the
# paper measured clean 6.73 and corrupted −4.88 on bare "1 2 3 4" prompts,
# see the reference table in section 4.)
#
# **Ground truth (toy-seq).** toy-seq was trained on stories of 3 to 6
# members whose target is always *the successor of the last member shown*;
# 30% of its training stories had random members. So the right answer
# depends on the last member alone. Whether a model has learned that is
# testable on any model, and we test it below; for toy-seq we know the answer
# in advance.
#
# **What you should see on toy-seq.** Every prompt passes the filter in
# every task, the top-1 answer is right on all of them, the clean logit
# difference is above 10 and the corrupted one below −10 in every task: the
# model is sure, and the corrupted prompts flip it completely. GPT-2 small
# (paper) is less sure: 6.73 clean and −4.88 corrupted on "1 2 3 4".
#
# ### Summary
# * Three tasks, three templates, aligned clean / corrupted / random prompts.
# * The metric is the logit difference, correct minus last-member-repeated.

# %% [markdown]
# ## 2. The logit lens: where does the answer appear?
#
# The **logit lens** (nostalgebraist 2020) reads the residual stream after
# each layer as if it were the last: through the final LayerNorm and the
# unembedding. It shows at which depth the answer becomes readable. We track
# three things per layer at the final position: the logit difference, how
# often the answer is the top token, and how often the *last member shown* is
# the top token (a model might first copy the member, then add one).

# %% [markdown]
# The hand-built transformer first. Its answer is written by the successor
# head of layer 1, and nothing in it ever writes the last member as a
# token, so the lens should find the answer only after its last layer:

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
    ax.set_xlabel("after layer (0 = embedding)")
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
    print(f"  -> the answer first tops most prompts after layer {first}")

# %% [markdown]
# Read the table above. In GPT-2 small the paper found the answer appearing
# late: at layer 8 the top token is usually the member *before* the answer
# (the last member shown), and at layer 9 it is the answer (numerals:
# 1531/1536 prompts, months 1495/1536, number words 1396/1536). The copy
# comes before the +1. Compare your model's rows: at which depth does the
# answer win, and is there a depth where the last member is on top first?
#
# **What you should see on toy-seq.** The answer is on top in every prompt
# from depth 2 on (after the layer-1 heads that carry the member) and in at
# most an eighth of them before; the last member is on top in at most an
# eighth of the prompts at depth 0 and in none after it. The lens shows no
# "copy first, then +1" stage. GPT-2 small (paper): the last member on top
# at layer 8, the answer at layer 9.
#
# ### Summary
# * The logit lens locates the depth where the answer becomes readable.
# * In GPT-2 small it appears at layer 9, right after the successor head.

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
# ## Exercise 4 · The attention-to-last-member readout
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 10 minutes
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
# `pattern[:, :, -1]` is the final position's attention, `[batch, n_heads,
# key]`; index it with `rows = torch.arange(batch)` and `member_pos[:, -1]`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# `pattern[rows, :, -1, member_pos[:, -1]]` picks, for each row, the query
# -1 and the key of that row's last member, for every head: `[batch,
# n_heads]`; the mean over rows is the readout.
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
# ## Exercise 5 · A prediction
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes
#
# Before you patch (next section): which head will activation patching rank
# first on the numerals, the head whose clean output restores most of the
# answer? Use what you have seen so far (the attention table above, the
# hand-set head of section 0) and return it from `predict_top_head` as
# `"layer.head"`. The check runs after the patching below and compares.


# %% tags=["exercise"]
def predict_top_head() -> str:
    """Your prediction: the head patching will rank first on the numerals, as "layer.head"."""
    # BEGIN SOLUTION
    # the head that attends most from the final position to the last member
    return roles.top_heads(to_members["numerals"][..., -1], k=1)[0][0]
    # END SOLUTION


# %% [markdown]
# In GPT-2 small the paper describes head 9.1 attending from the last token
# almost only to the most recent member, 7.11 attending to the recent members,
# and 1.5 and 4.4 as "number detection" heads that attend between members
# (4.4: " 3" → " 2" with mean weight 0.34). The printout above lists your
# model's heads with the most attention to the last member and to the earlier
# ones.
#
# **Ground truth (toy-seq).** toy-seq's answer depends on the last member
# only, so a head that carries it to the final position is what the data
# calls for; heads that look at earlier members are not needed by the task.
#
# ### Explore: attention patterns
#
# Pick a task, a prompt, a layer and a head. The top bar chart is the final
# position's attention (members in gold); below is the full pattern. (The
# widget needs a live kernel; a static page shows its first drawing.)

# %%
explorers.attention_explorer(model, data)

# %% [markdown]
# **What you should see on toy-seq.** Both heads of layer 1 give the last
# member at least 0.95 of the final position's attention in every task, the
# heads of layer 2 between half and four fifths, and no head gives the three
# earlier members together more than a quarter. (toy-seq was trained with
# layer 0's attention frozen uniform, so its movers sit in layer 1.) GPT-2
# small (paper): 9.1 attends almost only to the most recent member, and 7.11
# to the recent members.
#
# ### Summary
# * A few heads carry the last member to the final position; the table names
#   them for your model.
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
# ## Exercise 6 · Patch one head by hand
#
# **Difficulty** ●●○ · **Importance** ●●● · about 15 minutes
#
# Write `patch_one_head(model, clean_tokens, corrupted_tokens, layer, head,
# metric)`: cache the clean run's `blocks.{layer}.attn.hook_z` (each head's
# output before the output matrix, shape `[batch, pos, n_heads, d_head]`), run
# the corrupted tokens with a hook that copies head `head`'s slice from the
# cache, and return `metric(logits)`.
#
# <details><summary>Hint</summary>
#
# `_, cache = model.run_with_cache(clean_tokens)`; a hook is a function
# `hook_fn(z, hook)` returning the new `z`; run it with
# `model.run_with_hooks(corrupted_tokens, fwd_hooks=[(name, hook_fn)])`.
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
# ## Exercise 7 · Direct logit attribution of each head
#
# **Difficulty** ●●○ · **Importance** ●●● · about 15 minutes
#
# Write `head_dla(z, W_O, scale, directions)`: `z` is one layer's `hook_z` at
# the final position, `[batch, n_heads, d_head]`; `W_O` is `[n_heads,
# d_head, d_model]`; `scale` is `[batch, 1]`; `directions` is `[batch,
# d_model]`. Return each head's mean contribution, `[n_heads]`.
#
# <details><summary>Hint</summary>
#
# `torch.einsum("bhd,hdm->bhm", z, W_O)` is each head's output `[batch,
# n_heads, d_model]`. Divide by `scale[:, :, None]`, multiply by
# `directions[:, None]`, sum over `d_model`, average over the batch.
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
# **What you should see on toy-seq.** The heads together write between a
# fifth and a half of the logit difference directly and the MLPs the rest;
# the head patching ranks first writes less than a seventh of it. So the
# layer-1 heads do not write the whole answer themselves: the MLPs after
# them add most of it. In GPT-2 small the paper's successor head 9.1 both
# restores the answer under patching (0.25 to 0.30, the table above) and
# writes the successor through its OV circuit (section 7).

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
#
# **Ground truth (toy-seq).** If only the last member matters, the earlier
# members can be anything. Clean and corrupted prompts cannot test that
# (they differ only at the last member), so we intervene on the input
# directly: replace the three earlier members of every clean prompt by random
# other members, keep the last one, and count how often the top answer stays
# the same. A model that reads only the last member is unmoved; a model that
# also reads the run (as GPT-2 may) can change its mind.

# %%
for task in TASKS:
    kept = study.answer_kept_when_earlier_members_change(model, data[task].clean)
    print(
        f"{task:<13} answer unchanged when the earlier members are scrambled: "
        f"{kept:.1%}"
    )

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
# **What you should see on toy-seq.** Patching the two layer-1 heads
# restores most of the answer between them (their scores add up to more than
# 0.7 in every task), no other head restores more than 0.1, and which of the
# two ranks first changes from task to task: they share the job.
# Attribution patching agrees (correlation above 0.9, same top head). GPT-2
# small (paper): 9.1 restores 0.25 to 0.30, the rest is spread over many
# heads.
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
# the prompt, not everything (as zeroing would).
#
# ## Exercise 8 · A mean-ablation hook
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes
#
# Write the hook `mean_ablate_head(z, hook, head, mean)`: `z` is a layer's
# `hook_z`, `[batch, pos, n_heads, d_head]`, and `mean` is head `head`'s mean
# output over the reference prompts, `[pos, d_head]`. Return `z` with that
# head's output replaced by `mean` at every prompt and position.
#
# <details><summary>Hint</summary>
#
# `z[:, :, head] = mean` broadcasts `[pos, d_head]` over the batch.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Clone `z` (so the cache is not changed under you), write the mean into the
# head's slice, return it. The other heads keep their output.
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
# model:
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
# ### Zero, mean or resample?
#
# What should replace a component's output when we remove it? Three common
# answers, side by side on one component, the one whose mean ablation costs
# most in the table above:
#
# * **zero ablation** writes 0, a value the component may never produce: it
#   removes the component's information *and* its constant offset, which the
#   rest of the model relies on;
# * **mean ablation** writes the mean over the reference prompts: it keeps
#   the offset and removes only what is specific to the prompt. The paper
#   uses it (after Wang et al. 2022);
# * **resampling ablation** writes the activation of *another* reference
#   prompt, row by row: realistic values, but they carry that prompt's own
#   member, information that points to a different answer, and the result
#   depends on which prompt was drawn (three draws below).
#
# They run on the prompts the single ablations used (`setups[task].dataset`).
# The mean here is one mean over all the reference prompts, where the table
# used one per template (the paper's recipe), so the mean row differs a little
# from the table's number.

# %%
worst = min(single["numerals"], key=single["numerals"].get)
kinds = attribution.ablation_kinds(
    model, worst, setups["numerals"].dataset, data["numerals"].random
)
ratio = attribution.activation_norm_ratio(model, worst, data["numerals"].random)
print(f"ablating {worst} on the numerals (share of the logit difference kept)")
for kind, r in kinds.items():
    spread = f" ± {r['spread']:.3f} over 3 draws" if kind == "resample" else ""
    print(
        f"  {kind:<9}{r['kept']:>7.1%}{spread}; spread over prompts {r['kept_row_std']:.2f}"
    )
print(f"|mean activation| / mean |activation| of {worst}: {ratio:.2f}")
print(
    "resampling removes more than the mean:",
    kinds["resample"]["kept"] < kinds["mean"]["kept"],
)

# %% [markdown]
# The last line says whether resampling took more of the answer than the
# mean did: when it does, the extra loss is the other prompts' members
# pushing their own answers, not the loss of this prompt's information.
# The norm ratio says how much of the component's output is a constant
# offset (near 1: mostly offset), the part zero ablation removes and the
# other two keep. The mean measures one thing, the information specific to
# the prompt, with no randomness: the reason the paper prunes with it.

# %% [markdown]
# The paper's single ablations in GPT-2 small (1536 prompts per task):
# numerals lose 47% without head 7.11, 15% without 10.7, 14% without 1.5,
# 13% without 8.8 or 4.4, 9% without 9.1 (1.35% for the average head); number
# words lose 92% without 0.1, 62% without 7.11, 52% without 4.4, 30% without
# 9.1. MLP 0 and MLP 9 matter most among the MLPs (numerals keep 37% and 29%
# without them). Compare the rows printed above.
#
# One ablation at a time underestimates components that **back each other
# up**: if two heads do the same job, removing either one costs little. That
# is why circuits are found by removing components *cumulatively*.
#
# **What you should see on toy-seq.** MLP 0 matters most by far (it leaves
# under 30% in every task); no head alone leaves less than 70%, though the
# two layer-1 heads carry the member: each backs the other up, which one
# ablation at a time cannot see. Every head outside layer 1 keeps at least
# 97%. GPT-2 small (paper): 7.11 costs 47% of the numerals, MLP 0 and MLP 9
# leave 37% and 29%.
#
# ### Summary
# * Mean ablation replaces a component by its average over random-member
#   prompts, per template and position.
# * Single ablations rank components but miss redundancy.

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
# **Difficulty** ●●● · **Importance** ●●● · about 25 minutes
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
# `circuit = set(visit_order("backward"))`; a `while True:` loop with a
# `changed = False` flag; inside, `for direction in ("backward", "forward"):
# for comp in visit_order(direction):`, skip components already removed,
# test `performance(circuit - {comp}) >= threshold`.
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
# The library's `prune_circuit` runs the same loop with less work: a
# candidate circuit (the current one without one component of layer L) is
# the current circuit below L, so each visit runs only from layer L up. Each pass shows a progress bar over the components it
# will visit; a pass that removes nothing ends the pruning.

# %% tags=["nbval-ignore-output"]
study.announce(model, data["numerals"], "pruning")
found = {
    task: cd.prune_circuit(model, setups[task], threshold=0.8, desc=task)
    for task in TASKS
}

# %%
circuits = {task: found[task].circuit for task in TASKS}
knockout = {
    task: cd.knockout_performance(model, setups[task], circuits[task]) for task in TASKS
}
print(
    figures.table(
        [
            (
                task,
                cd.format_circuit(circuits[task]),
                found[task].performance,
                knockout[task],
            )
            for task in TASKS
        ],
        ["task", "circuit", "alone keeps", "ablated keeps"],
        formats=["", "", ".1%", ".1%"],
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
# Read the first table: each circuit, what it keeps alone, and what the model
# keeps when the circuit alone is ablated. The pruning guarantees the first
# number is at least 80% (it removes nothing that would take it lower); the
# second is a real test, and a low number means the circuit is where the work
# happens. The paper's GPT-2 small circuits keep 81% and hold most of the
# MLPs and 13 to 19 heads; yours are as large as your model needs.
#
# The order of visits matters: of two heads that back each other up, the
# first one visited is removed and the second kept. Circuits found by
# pruning are *a* sufficient set, not *the* set.
#
# **What you should see on toy-seq.** Every circuit holds heads of layer 1
# only, and MLPs 0, 1 and 2; the circuits are not all the same (number words
# keep one layer-1 head, the other tasks both). Each keeps between 80% and
# 90% alone (pruning stops near the threshold), and the model with the
# circuit ablated keeps at most about a tenth: faithful and necessary. GPT-2
# small (paper): 13 to 19 heads and most MLPs, keeping 81%.
#
# ### Summary
# * Iterative pruning removes components cumulatively while 80% of the logit
#   difference remains.
# * A circuit should pass both faithfulness and knockout.

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
# **Difficulty** ●●○ · **Importance** ●●● · about 10 minutes
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
# `logits = read(inputs[layer] @ W_V @ W_O)`; `logits.topk(k, dim=-1).indices`
# has shape `[n, k]`; compare it with `successor_ids[:, None]`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# A hit is a row whose top-k tokens contain its successor: `(top ==
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
hand_ov = {
    task: roles.ov_successor_scores(
        hand,
        roles.ov_inputs(hand, [hand_data[task].clean, hand_data[task].random]),
        sequences.member_token_ids(hand.tokenizer, task),
    )
    for task in TASKS
}
print(
    "hand-built, heads with an OV successor score above 50%: "
    + ", ".join(
        f"{L}.{h} ({', '.join(f'{hand_ov[t][L, h]:.0%}' for t in TASKS)})"
        for L in range(2)
        for h in range(2)
        if min(hand_ov[t][L, h] for t in TASKS) > 0.5
    )
)
print(f"{'head':<8}" + "".join(f"{t:>14}" for t in TASKS))
best = sorted(
    (
        (sum(ov[t][L, h] for t in TASKS), L, h)
        for L in range(cfg.n_layers)
        for h in range(cfg.n_heads)
    ),
    reverse=True,
)[:4]
for _, L, h in best:
    print(f"{L}.{h:<6}" + "".join(f"{ov[t][L, h]:>14.1%}" for t in TASKS))
print(f"{'mean':<8}" + "".join(f"{ov[t].mean():>14.1%}" for t in TASKS))
print("GPT-2 small (paper):")
for name, row in roles.PAPER_OV_SCORES.items():
    print(f"  {name:<18}" + "".join(f"{row[t]:>12.1%}" for t in TASKS))

# %% [markdown]
# The heads with the best OV successor scores are above, beside the paper's
# head 9.1. Here is the mapping itself for the best head: for each member,
# the token its OV circuit writes most.

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
# A head that attends to the last member *and* maps it to its successor does
# the whole task in one step, as 9.1 largely does in GPT-2 small. A head with
# a low score may still be essential: it can *move* the member to the final
# position and leave the "+1" to an MLP after it. Conversely, a head with a
# high score does nothing for the task if it does not attend to the members.
# Which is the case for your model? The attention table (section 3) says
# which heads move the member, the ablation table (section 5) which ones
# matter, and this table which ones map it.
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
# *m + 1* implements the successor relation itself.

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

# %% [markdown]
# The table lists, per MLP of the shared circuit (and the last MLP), the
# neurons that vary most, how their variation splits, and what they read and
# write. Member-driven neurons (high "member" share) are features *shared by
# the three tasks*: they respond to "the fourth member" whether it is 4, four
# or April. Rows marked `True` are neurons fired by a member that promote its
# successor: the successor relation, stored in an MLP.
#
# **Ground truth (toy-seq).** In toy-seq's training data the answer is member
# index + 1 in every task, so nothing forces the model to treat the tasks
# separately; neurons keyed on the member index across tasks are exactly the
# sharing the data allows.
#
# **What you should see on toy-seq.** Both layer-1 heads are successor
# heads: their OV circuits score 100% in every task (GPT-2's 9.1: 87% on
# numerals, 91% on number words, 31% on months), and the heads of layer 2
# score above 70%. The hand-built transformer's successor head scores 100%
# and its other heads 0%: the score finds a successor head where there is
# one. Note the mean row: toy-seq's average head scores far above GPT-2's
# 3%, so a score means more against that row than on its own.
#
# ### Summary
# * OV successor scores test whether a head's OV circuit maps a member to the
#   next; head 9.1 does so in GPT-2 small.
# * MLP neurons can respond to the member regardless of task, and promote its
#   successor.

# %% [markdown]
# ## 8. The shared sub-circuit
#
# ## Exercise 11 · The overlap of two circuits
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 5 minutes
#
# Write `shared_components(circuit_a, circuit_b)`: the components in both
# circuits, each once, in model order (by layer; in a layer the heads by
# index, then the MLP). Components come as `Component`s or strings like
# `"9.1"` and `"MLP0"`; `Component.parse` turns either into a `Component`, and
# `cd.component_key` is the sort key.
#
# <details><summary>Hint</summary>
#
# A set intersection of the parsed components, then `sorted(...,
# key=cd.component_key)`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# Parse both sides (so "9.1" and `Component("head", 9, 1)` compare equal),
# intersect, sort.
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
# (everything else mean-ablated) and how much is left without it.
#
# **What you should see on toy-seq.** The shared sub-circuit is one
# layer-1 head and MLPs 0, 1 and 2; alone it keeps at least 60% of every
# task, and with it ablated the model keeps at most about a tenth. The
# other layer-1 head is in two circuits only. GPT-2 small (paper): the
# circuits share eight heads.
#
# ### Summary
# * The overlap of the circuits is the sub-circuit the tasks share.
# * Run alone, it tells you how much of each task is done by shared
#   machinery.

# %% [markdown]
# ## 9. Circuit surgery
#
# If the tasks share machinery, one edit to it should change all three at
# once. Here is the edit. Take the heads that carry the last member to the
# final position (section 3: attention to the last member at least half the
# strongest head's). For each member token, measure each such head's mean
# value vector, and give the head, wherever that token appears, the value of
# the member **two places earlier** instead (`surgery.fit_member_shift`,
# `shift=-2`). If the model answers "the successor of what these heads
# carry", it will now answer the successor of the member two before the last:
# the last member's **predecessor**. Tokens that are not members get no
# correction. Each task's corrections are measured on that task's own prompts
# (`fit_each_task` below): whether a correction measured on one format also
# works for another is a separate question, taken up after the exercise.

# %%
study.announce(model, data["numerals"], "surgery")
mean_last = torch.stack([to_members[t][..., -1] for t in TASKS]).mean(0)  # [L, H]
movers = [
    Component("head", L, h)
    for L in range(cfg.n_layers)
    for h in range(cfg.n_heads)
    if mean_last[L, h] >= 0.5 * mean_last.max()
]
shared_movers = [c for c in movers if c in shared]
print("heads that carry the last member:", ", ".join(map(str, movers)))
print("of those, in the shared circuit:", ", ".join(map(str, shared_movers)) or "none")

new_data, _ = study.build_task_data(model, seed=7)
tests = {t: new_data[t].clean for t in TASKS}


def fit_each_task(heads, shift=-2):
    """One edit: each task's member tokens get corrections measured on that task."""
    edit = surgery.MemberShift(shift, fitted_on=TASKS, applied_to=TASKS)
    for task in TASKS:
        part = surgery.fit_member_shift(
            model, heads, [data[task].clean, data[task].random], shift, apply_to=(task,)
        )
        for head, table in part.corrections.items():  # the tasks' tokens do not overlap
            edit.corrections[head] = edit.corrections.get(head, 0) + table
    return edit


edits = {
    "all movers": fit_each_task(movers),
    "shared movers only": fit_each_task(shared_movers),
}
print(
    f"\n{'edit':<20}{'task':<14}{'successor on top':>18}{'predecessor on top':>20}"
    f"{'logit diff':>16}"
)
effects = {
    label: {t: surgery.sequence_effect(model, edit, tests[t]) for t in TASKS}
    for label, edit in edits.items()
}
for label in edits:
    for task in TASKS:
        e = effects[label][task]
        print(
            f"{label:<20}{task:<14}{e['successor_before']:>8.0%} -> {e['successor_after']:<5.0%}"
            f"{e['shifted_after']:>18.0%}  {e['logit_diff_before']:>6.2f} -> "
            f"{e['logit_diff_after']:<6.2f}"
        )

# %% [markdown]
# Read the table (the prompts are new ones, seed 7, not those the edit was
# fitted on). For each task: how often the successor is the top token before
# and after the edit, how often the predecessor of the last member is on top
# after it, and the logit difference before and after. One edit to the same
# heads for all three tasks (each task's tokens with their own corrections);
# the lines above it say which of its heads belong to the shared circuit.
#
# The second block edits only the carriers that belong to the shared
# circuit. When the two blocks agree, every head that carries the member is
# shared. When they differ, a carrier outside the shared circuit (a backup,
# which pruning can drop from a circuit because one carrier was enough) keeps
# voting for the original answer, and an edit must reach it too.

# %% [markdown]
# ## Exercise 12 · Fit the surgery on one task
#
# **Difficulty** ●●○ · **Importance** ●●○ · about 15 minutes
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
# Start from `torch.zeros_like(value_means)` and loop over `m` in
# `range(12)`; skip `m` when `m + shift` is outside `0..11` or either row
# has a NaN (`row.isnan().any()`).
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
# `surgery.fit_member_shift` computes these corrections for every head,
# measured per member *index* on the prompts it is given, and adds them to
# the member tokens of every task it is applied to, by index (the correction
# measured between 5 and 3 goes to five and to May too). Fit it on the
# **numerals only** (their clean and random prompts) and test it on new
# prompts of all three tasks. Does a correction measured on numerals move
# the answer for number words and months? It does if the heads' values of
# 5, five and May differ from those of 3, three and March in the same way:
# a question about shared representations, which section 10 asks directly.
# The hand-built transformer first (its mover's value holds the index in
# dimensions shared by the three tasks, so the transfer should be complete),
# then the lesson's model:

# %%
hand_edit = surgery.fit_member_shift(
    hand, [hb.MOVER], [hand_data["numerals"].clean, hand_data["numerals"].random]
)
one_task = surgery.fit_member_shift(
    model, movers, [data["numerals"].clean, data["numerals"].random], shift=-2
)
print(f"{'model':<12}{'task':<14}{'successor on top':>18}{'predecessor on top':>20}")
one_task_effects = {}
for label, m, edit, sets in (
    ("hand-built", hand, hand_edit, hand_data),
    (NAME, model, one_task, tests),
):
    for task in TASKS:
        test = sets[task].clean if label == "hand-built" else sets[task]
        e = surgery.sequence_effect(m, edit, test)
        if label != "hand-built":
            one_task_effects[task] = e
        print(
            f"{label:<12}{task:<14}{e['successor_before']:>8.0%} -> "
            f"{e['successor_after']:<7.0%}{e['shifted_after']:>16.0%}"
        )

# %% [markdown]
# **What you should see.** On the hand-built transformer the numerals' fit
# moves all three tasks to the predecessor: its mover carries a member's
# index in dimensions the three tasks share. On toy-seq it moves the
# numerals to the predecessor, and the predecessor reaches the top in at
# most an eighth of the number-word and month prompts: the same correction,
# added to five or May, does not make the heads carry three or March. toy-seq's heads do not carry 5, five and May alike, though the
# three tasks run through the same heads; section 10 looks at the residual
# stream itself. (Lan et al. do not report this transfer for GPT-2 small.)

# %% [markdown]
# Are prompts that do **not** continue a sequence left as they were? We take
# the templates with nouns or names where the members were (nothing to
# continue) and compare the next-token distributions with and without the
# edit, at the final position and at every position.

# %%
plain = surgery.non_sequence_dataset(model.tokenizer, n=study.N_PROMPTS, seed=5)
print(textwrap.fill(f"e.g. {plain.prompts[0]}", 78, subsequent_indent="     "))
for where in ("last", "all"):
    change = surgery.distribution_change(
        model, edits["all movers"], plain.tokens, where
    )
    print(
        f"positions: {where:<5} same top-1 {change['same_top1']:.1%}, "
        f"mean KL {change['mean_kl']:.2e}, largest probability change "
        f"{change['max_prob_change']:.2e}"
    )

# %% [markdown]
# The printout says the distributions are unchanged: the edit corrects only
# the values of member tokens, and these prompts hold none. That is by
# design, and the measurement checks the implementation keeps the promise.
# For GPT-2 the natural test set would also include ordinary text; toy-seq
# knows nothing but this task, so the templates without members are the
# prompts it can be tested on.
#
# **Ground truth (toy-seq).** The edit moves the answer to the predecessor
# because the model computes "successor of the member these heads carry",
# the rule we trained it on. In GPT-2 small, head 9.1's OV circuit is itself
# the successor map, so the same experiment probes whether its readout is
# what the model trusts.
#
# **What you should see on toy-seq.** Edited at every carrying head, the
# predecessor is on top in at least 95% of the new prompts of every task;
# edited at the shared carrier alone, most prompts still answer the
# successor: the backups outside the shared circuit keep voting for it.
# Prompts without members keep every next-token distribution exactly (KL
# 0). The paper edits nothing; section 10 asks why a numerals-only fit
# does not transfer here.
#
# ### Summary
# * One edit to the heads that carry the member changes all three tasks.
# * Prompts without members are untouched, measured.

# %% [markdown]
# ## 10. One is 1: the same value in three formats?
#
# Lan, Torr and Barez began with a simpler question ("One is 1"): does GPT-2
# represent 1, one and January alike? Lesson 01 did latent-space arithmetic
# in embeddings it trained, E(five) − E(5) + E(7) ≈ E(seven); here we ask the
# same of a transformer's residual stream. At every member's position we
# take the residual stream before each block and after the last, and average
# it per format (numerals, number words, months) and value (1 to 12):
# `rep.member_streams` gives `[n_depths, 3, 12, d_model]`.
#
# Raw residual vectors all share a large common part (the same position, the
# same template), so every pair looks similar. The question is about what
# *differs* between members: subtract, at each depth, the mean of all 36.
#
# ## Exercise 13 · The same value across formats, layer by layer
#
# **Difficulty** ●○○ · **Importance** ●●○ · about 10 minutes
#
# Write `format_similarity(streams, f, g)`: `streams` is `[n_depths, 3, 12,
# d_model]`; centre each depth on the mean of its 36 vectors, then return,
# per depth, the cosine similarity of format `f`'s and format `g`'s vectors
# of the same value, averaged over the 12 values (`[n_depths]`).
#
# <details><summary>Hint</summary>
#
# `streams - streams.mean((1, 2), keepdim=True)` centres a copy;
# `torch.nn.functional.cosine_similarity(a, b, dim=-1)` on `[n_depths, 12,
# d_model]` gives `[n_depths, 12]`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# After centring, a vector holds only what distinguishes its member from the
# other 35. A cosine near 1 means the same value points the same way in both
# formats; the baseline is the cosine between *different* values.
# </details>


# %% tags=["exercise"]
def format_similarity(streams, f, g):
    """Mean cosine of the same value in formats f and g, per depth, after centring [n_depths]."""
    # BEGIN SOLUTION
    centred = streams - streams.mean((1, 2), keepdim=True)
    cos = torch.nn.functional.cosine_similarity(centred[:, f], centred[:, g], dim=-1)
    return cos.mean(-1)
    # END SOLUTION


# %% tags=["check"]
check_format_similarity(format_similarity)

# %%
streams = rep.member_streams(model, data)  # [n_depths, 3, 12, d_model]
centred = rep.centre(streams)
depths = [f"before block {L}" for L in range(cfg.n_layers)] + ["after the last"]
pairs = [(0, 1), (0, 2), (1, 2)]
print(
    f"{'depth':<16}"
    + "".join(f"{TASKS[f][:6]}~{TASKS[g][:6]:<8}" for f, g in pairs)
    + "  (same value | different values)"
)
same_minus_diff = []
for d, label in enumerate(depths):
    cells = []
    for f, g in pairs:
        same = rep.cosine_by_layer(centred[:, f], centred[:, g])[d]
        diff = rep.mismatched_cosine(centred[:, f], centred[:, g])[d]
        same_minus_diff.append(float(same - diff))
        cells.append(f"{same:+.2f}|{diff:+.2f}    ")
    print(f"{label:<16}" + "".join(cells))
print(f"largest gap between same and different values: {max(same_minus_diff):+.2f}")

# %% [markdown]
# A picture of the same vectors: the 36 centred members at one depth (the
# residual stream before the last block) in the plane of their two largest
# principal components, coloured by value (left) and by format (right), one
# marker per format. If the formats shared a value axis, the colours on the
# left would run the same way for all three markers; if each format kept to
# its own region, the colours on the right would separate.

# %%
depth = cfg.n_layers - 1
points, kept_var = rep.pca_2d(centred[depth].flatten(0, 1))
draw_member_pca(points, TASKS, title=f"{depths[depth]}: {kept_var:.0%} of the variance")
plt.show()

# %% [markdown]
# ### A linear probe for a member's place in its sequence
#
# A **probe** is a linear map trained to read one property from the
# residual stream. Here the property is a member's place in its sequence (1
# for 1, one and January; 12 for 12, twelve and December): a ridge
# regression fitted on numerals only, then tested on new prompts of every
# format. If the three formats share a "value" direction, the probe trained
# on numerals reads number words and months too.

# %%
print(f"{'depth':<16}" + "".join(f"{t:>24}" for t in TASKS))
probe = rep.value_probe_transfer(model, data)  # one dict per depth
for d, label in enumerate(depths):
    print(
        f"{label:<16}"
        + "".join(
            f"{probe[d][t]['exact']:>10.0%} exact, R² {probe[d][t]['r2']:>+5.2f}"
            for t in TASKS
        )
    )
print("chance: 1 value in 12 = 8% exact")

# %% [markdown]
# ### A shared "+1" direction? Steering with it
#
# Lesson 01 found a "+1" direction in its embeddings. Here: per format, the
# mean step from each member's centred vector to the next one's. If the
# formats share it, the steps point the same way. **Activation addition**
# (Turner et al. 2023) then tests whether the model *uses* it: add
# α × the numerals' step to the residual stream at the last member and see
# whether the model answers one further ("+2": the member after the
# answer). We add it before the block of the head patching ranks first,
# where the member is read and moved.

# %%
steps = rep.plus_one_direction(centred)  # [n_depths, 3, d_model]
for d, label in enumerate(depths):
    cos = torch.nn.functional.cosine_similarity
    print(
        f"{label:<16} cos(+1 step): numerals~words {cos(steps[d, 0], steps[d, 1], dim=0):+.2f}, "
        f"numerals~months {cos(steps[d, 0], steps[d, 2], dim=0):+.2f}"
    )
steer_layer = Component.parse(
    roles.top_heads(patched["numerals"]["heads"], 1)[0][0]
).layer
steering = {
    task: rep.steering_effect(
        model,
        data[task].clean,
        steps[steer_layer, 0],
        steer_layer,
        alphas=(0.0, 1.0, 4.0),
    )
    for task in TASKS
}
print(f"\nadding a * (numerals' +1 step) before block {steer_layer} at the last member")
print(f"{'task':<14}{'a':>5}{'answer on top':>15}{'+2 on top':>11}{'logit diff':>12}")
for task in TASKS:
    for alpha, r in steering[task].items():
        print(
            f"{task:<14}{alpha:>5.0f}{r['answer']:>15.0%}{r['plus_two']:>11.0%}"
            f"{r['logit_diff']:>12.2f}"
        )
moved = max(r["plus_two"] for s in steering.values() for r in s.values())
print(f"largest share of prompts moved to +2 by steering: {moved:.0%}")

# %% [markdown]
# **What you should see on toy-seq.** Read the three printouts. toy-seq
# learned each format from its own tokens with a word-level tokenizer, so
# nothing forced the formats to share a representation: the cosine of the
# same value across formats stays about as low as between different values
# (the largest gap is printed), the probe fitted on numerals reads the
# numerals and fails on the other formats (near chance), the "+1" steps of
# the formats are far from parallel, and adding the numerals' step does not
# move the answer. The tasks share *circuitry* (sections 8 and 9) without
# sharing a *representation* of the value: the two questions are separate.
#
# **GPT-2 small.** The paper reports the shared sub-circuit (section 8) and
# head 9.1's successor scores on all three formats (section 7), which is
# what a shared representation would predict; these measurements are not in
# the paper: with GPT-2's weights on your machine, run this section and see.
#
# ### Summary
# * Centre before comparing: the residual stream's common part hides the
#   differences between members.
# * Cosines, a PCA plane, a transferred probe and steering ask four
#   versions of one question: is "1" the same in every format?

# %% [markdown]
# ## Closing note: what we found
#
# The cell below prints, from the numbers computed above, the three circuits,
# their overlap and the surgery's effect.

# %%
print(f"model: {NAME}")
for task in TASKS:
    print(
        f"{task:<13} {cd.format_circuit(circuits[task])}: alone "
        f"{found[task].performance:.1%}, ablated {knockout[task]:.1%}"
    )
print("shared:       ", cd.format_circuit(shared))
for task in TASKS:
    e = effects["all movers"][task]
    print(
        f"surgery on {', '.join(map(str, movers))}, {task}: successor on top "
        f"{e['successor_before']:.0%} -> {e['successor_after']:.0%}, predecessor on top "
        f"{e['shifted_after']:.0%}"
    )

# %% [markdown]
# ## Summary
#
# * A transformer is a residual stream that every block adds to; a head is a
#   QK circuit (where to look) and an OV circuit (what to move), and one head
#   set by hand can fetch the last member. The hand-built transformer,
#   whose circuit is known, is where every method is checked first.
# * The logit difference (correct minus the last member repeated) measures
#   the task; clean and corrupted prompts differ in one token.
# * The logit lens, attention patterns and activation patching locate where
#   the last member is read and moved; attribution patching approximates
#   patching in one backward pass.
# * Mean ablation and the paper's iterative pruning find a circuit per task
#   that keeps at least 80% of the logit difference; knocking it out tests
#   that the work happens there.
# * OV successor scores and neuron analysis say what the parts do: move the
#   member, map it to its successor.
# * Direct logit attribution splits the answer into what each component
#   writes; zero, mean and resampling ablation remove different things, and
#   the mean removes only what is specific to the prompt.
# * The circuits overlap; one edit to the heads that carry the member
#   changes all three tasks, and leaves prompts without members alone.
# * Sharing circuitry is not sharing a representation: cosines, a PCA plane,
#   a transferred probe and steering test whether 5, five and May are alike.
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
#    your circuit match the paper's table?
# 6. Change `last_member_head` so the head writes the *successor* of the last
#    member (a successor head). What must `W_OV` be?
# 7. Steer with the mean of the three formats' "+1" steps instead of the
#    numerals' alone, and at every depth. Does anything move on toy-seq?
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
