# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 03 · Sequence-continuation circuits, and the sub-circuit the tasks share
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
# 1. the task, the data and the metric;
# 2. the logit lens: at which layer the answer appears;
# 3. attention patterns: which heads look at which member;
# 4. activation patching, exact and attribution (its fast approximation);
# 5. mean ablation of each head and MLP;
# 6. circuit discovery by the paper's iterative pruning;
# 7. what the components do: OV successor scores and MLP neurons;
# 8. the overlap of the three circuits, the shared sub-circuit;
# 9. circuit surgery: one edit that changes all three tasks at once.
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

show_video("03_sequence_continuation_circuits")

# %%
import matplotlib.pyplot as plt
import torch

import neuralcircuits.teaching.sequence_circuits.widgets as explorers
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences, surgery
from neuralcircuits.science.models import load_model, model_name
from neuralcircuits.science.patching import Component, attribution_patch_heads
from neuralcircuits.teaching.sequence_circuits.checks import (
    check_logit_diff_metric,
    check_mean_ablate_head,
    check_ov_successor_score,
    check_patch_one_head,
    check_shared_components,
)

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
print(f"{'task':<14}{'circuit in GPT-2 small (Lan et al. 2023)':<70}{'kept':>6}")
for task in TASKS:
    kept = cd.PAPER_PERFORMANCE[task]
    text = cd.format_circuit(cd.paper_circuit(task))
    print(f"{task:<14}{text:<70}{'n/a' if kept is None else f'{kept:.1%}':>6}")
paper_shared = cd.circuit_overlap({t: cd.paper_circuit(t) for t in TASKS})
print("shared heads:", ", ".join(str(c) for c in paper_shared if c.kind == "head"))

# %% [markdown]
# ## 1. The task, the data and the metric
#
# The paper's prompts are four short sentences with a member each, and a
# fifth sentence left open. Three templates differ in the verb: `done` and
# `lost` with common nouns, `born` with first names.

# %%
for verb, template in sequences.TEMPLATES.items():
    print(f"{verb}: {template}")

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
    print(f"{kind:>9}: {prompt}")
print()
for task in TASKS:
    d = data[task]
    print(
        f"{task:<13} passes the filter alone: {pass_rates[task]:6.1%}; "
        f"kept in every task: {len(d)} rows; "
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
# corrupted:


# %%
def metric_for(dataset):
    """The logit difference on `dataset`, as a function of the logits."""
    return lambda logits: sequences.logit_diff(logits, dataset)


print(f"{'task':<14}{'top-1 correct':>14}{'clean':>10}{'corrupted':>11}")
for task in TASKS:
    d = data[task]
    with torch.no_grad():
        clean_ld = sequences.logit_diff(model(d.clean.tokens), d.clean).item()
        corr_ld = sequences.logit_diff(model(d.corrupted.tokens), d.clean).item()
    acc = sequences.accuracy(model, d.clean)
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

# %%
lens = {task: study.lens_summary(model, data[task].clean) for task in TASKS}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for task in TASKS:
    axes[0].plot(lens[task]["logit_diff"], marker="o", label=task)
    axes[1].plot(lens[task]["answer_top1"], marker="o", label=task)
axes[0].set_title("logit difference read at each depth")
axes[1].set_title("share of prompts with the answer on top")
for ax in axes:
    ax.set_xlabel("residual stream after layer (0 = embedding)")
    ax.set_xticks(range(cfg.n_layers + 1))
    ax.legend()
fig.tight_layout()
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

# %%
to_members = {
    task: roles.attention_to_members(model, data[task].clean) for task in TASKS
}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for ax, task in zip(axes, TASKS, strict=True):
    image = ax.imshow(to_members[task][..., -1], cmap="Blues", vmin=0, vmax=1)
    ax.set_title(task)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
fig.suptitle("attention from the final position to the last member")
fig.colorbar(image, ax=axes, shrink=0.8)
plt.show()

for task in TASKS:
    last = roles.top_heads(to_members[task][..., -1], k=3)
    earlier = roles.top_heads(to_members[task][..., :-1].sum(-1), k=3)
    print(
        f"{task:<13} to the last member: "
        + ", ".join(f"{h} {v:.2f}" for h, v in last)
        + " | to earlier members: "
        + ", ".join(f"{h} {v:.2f}" for h, v in earlier)
    )

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
# ## Exercise 2 · Patch one head by hand
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
# Results are kept in `build/cache`, keyed by the model's weights, the
# prompts and the library's code, so running the cell again is instant.

# %%
# NBVAL_IGNORE_OUTPUT
study.announce(model, data["numerals"], "patching")
patched = {task: study.patching_results(model, data[task]) for task in TASKS}

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for ax, task in zip(axes, TASKS, strict=True):
    words = [model.tokenizer.decode([int(t)]) for t in patched[task]["tokens"]]
    m, rows, cols, title = explorers.patching_view(
        patched[task], "residual stream", True, words
    )
    explorers.draw_patching(m, rows, cols, f"{task}: residual stream", ax=ax)
fig.tight_layout()
plt.show()

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, task in zip(axes, TASKS, strict=True):
    m, rows, cols, title = explorers.patching_view(patched[task], "heads", False)
    explorers.draw_patching(m, rows, cols, f"{task}: heads", ax=ax)
fig.tight_layout()
plt.show()

for task in TASKS:
    top = roles.top_heads(patched[task]["heads"], k=3)
    print(
        f"{task:<13} clean {patched[task]['clean']:6.2f}, corrupted "
        f"{patched[task]['corrupted']:6.2f}; top heads: "
        + ", ".join(f"{h} {v:.2f}" for h, v in top)
    )

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
# heads) and whether to patch one position at a time.

# %%
explorers.patching_explorer(patched, model)

# %% [markdown]
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
# ## Exercise 3 · A mean-ablation hook
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
#
# The means come from every random prompt. The scores are means of the logit
# difference over the clean prompts: on a model as large as GPT-2 small,
# `study.ablation_setup` uses 12 per task, 4 per template (the paper used
# 1,536, on a GPU), so each score is noisier than the paper's; toy-seq uses
# every prompt. An ablated run
# is the clean run below its lowest ablated layer, so it starts there, and
# the last layer computes only the last position, the one the metric reads.

# %%
study.announce(model, data["numerals"], "ablation")
setups = {task: study.ablation_setup(model, data[task]) for task in TASKS}
single = {task: cd.single_ablation_scores(model, setups[task]) for task in TASKS}
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
# without them). Compare the rows printed above.
#
# One ablation at a time underestimates components that **back each other
# up**: if two heads do the same job, removing either one costs little. That
# is why circuits are found by removing components *cumulatively*.
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

# On the shared engine, a candidate circuit (the current one without one
# component of layer L) is the current circuit below L, so each visit runs
# only from layer L up. Each pass shows a progress bar over the components it
# will visit; a pass that removes nothing ends the pruning.

# %%
# NBVAL_IGNORE_OUTPUT
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
print(f"{'task':<14}{'circuit':<44}{'alone keeps':>12}{'ablated keeps':>15}")
for task in TASKS:
    print(
        f"{task:<14}{cd.format_circuit(circuits[task]):<44}"
        f"{found[task].performance:>12.1%}{knockout[task]:>15.1%}"
    )
print(f"\n{'task':<14}GPT-2 small (Lan et al. 2023), kept")
for task in TASKS:
    kept = cd.PAPER_PERFORMANCE[task]
    print(
        f"{task:<14}{cd.format_circuit(cd.paper_circuit(task))} "
        f"({'not recorded' if kept is None else f'{kept:.1%}'})"
    )

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
# the residual stream at each member after block 0, push it through a head's
# `W_V W_O`, the final LayerNorm and the unembedding, and count a success when
# the member's successor is among the top 5 tokens. Head 9.1 of GPT-2 small
# scores 87% on numerals, 91% on number words and 31% on months; the average
# head scores 3%.
#
# ## Exercise 4 · An OV successor score
#
# **Difficulty** ●●○ · **Importance** ●●● · about 10 minutes
#
# Write `ov_successor_score(resid, W_V, W_O, read, successor_ids, k=5)`:
# `resid` is `[n, d_model]` (one member per row), `W_V` is `[d_model,
# d_head]`, `W_O` is `[d_head, d_model]`, `read` maps `[n, d_model]` to
# logits `[n, d_vocab]` (final LayerNorm and unembedding), and
# `successor_ids` is each member's successor token. Return the share of rows
# whose successor is in the top `k` tokens.
#
# <details><summary>Hint</summary>
#
# `logits = read(resid @ W_V @ W_O)`; `logits.topk(k, dim=-1).indices` has
# shape `[n, k]`; compare it with `successor_ids[:, None]`.
# </details>
#
# <details><summary>Solution explained</summary>
#
# A hit is a row whose top-k tokens contain its successor: `(top ==
# successor_ids[:, None]).any(-1)`. The score is the mean of the hits.
# </details>


# %% tags=["exercise"]
def ov_successor_score(resid, W_V, W_O, read, successor_ids, k=5) -> float:
    """Share of members whose OV output ranks their successor in the top k."""
    # BEGIN SOLUTION
    logits = read(resid @ W_V @ W_O)  # [n, d_vocab]
    top = logits.topk(k, dim=-1).indices  # [n, k]
    return (top == successor_ids[:, None]).any(-1).float().mean().item()
    # END SOLUTION


# %% tags=["check"]
check_ov_successor_score(ov_successor_score)

# %% [markdown]
# The library's `head_roles.ov_successor_scores` does it for every head. The
# residual at each member is averaged over every clean and random prompt in
# which it appears (the random prompts show all twelve members).

# %%
member_ids = {task: sequences.member_token_ids(model.tokenizer, task) for task in TASKS}
resid = {
    task: roles.member_residuals(model, [data[task].clean, data[task].random])
    for task in TASKS
}
ov = {
    task: roles.ov_successor_scores(model, resid[task], member_ids[task])
    for task in TASKS
}
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
    print(f"head {L_best}.{h_best}, {task}: " + " ".join(pairs))

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
# ### Summary
# * OV successor scores test whether a head's OV circuit maps a member to the
#   next; head 9.1 does so in GPT-2 small.
# * MLP neurons can respond to the member regardless of task, and promote its
#   successor.

# %% [markdown]
# ## 8. The shared sub-circuit
#
# ## Exercise 5 · The overlap of two circuits
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
# correction.

# %%
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

fit_sets = [getattr(data[t], kind) for t in TASKS for kind in ("clean", "random")]
new_data, _ = study.build_task_data(model, seed=7)
tests = {t: new_data[t].clean for t in TASKS}
edits = {
    "all movers": surgery.fit_member_shift(model, movers, fit_sets, shift=-2),
    "shared movers only": surgery.fit_member_shift(
        model, shared_movers, fit_sets, shift=-2
    ),
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
# after it, and the logit difference before and after. One edit, fitted once
# for all three tasks; the lines above it say which of its heads belong to
# the shared circuit.
#
# The second block edits only the carriers that belong to the shared
# circuit. When the two blocks agree, every head that carries the member is
# shared. When they differ, a carrier outside the shared circuit (a backup,
# which pruning can drop from a circuit because one carrier was enough) keeps
# voting for the original answer, and an edit must reach it too.
#
# Are prompts that do **not** continue a sequence left as they were? We take
# the templates with nouns or names where the members were (nothing to
# continue) and compare the next-token distributions with and without the
# edit, at the final position and at every position.

# %%
plain = surgery.non_sequence_dataset(model.tokenizer, n=study.N_PROMPTS, seed=5)
print("e.g.", plain.prompts[0])
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
# ### Summary
# * One edit to the heads that carry the member changes all three tasks.
# * Prompts without members are untouched, measured.

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
# * The circuits overlap; one edit to the shared carriers of the member
#   changes all three tasks, and leaves prompts without members alone.
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
#
# ## Reading
#
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
