# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 03 · Reverse-engineering a tiny transformer
#
# Lessons 01 and 02 read MLPs: a neuron is a dot product, a layer a matrix,
# and a small ReLU network can be written by hand. A transformer adds one
# thing an MLP does not have: **attention**, a layer in which each position
# of a text reads from the other positions. This lesson reads a transformer
# small enough to read whole, from its weights, and then builds the parts
# that real language models are made of by hand.
#
# The lesson follows three sources. Elhage et al. (2021), *A Mathematical
# Framework for Transformer Circuits*, read a transformer with attention
# only as a sum of paths: a **direct path** from the current token to the
# prediction, and one path per attention head, each split into a **QK
# circuit** (where the head looks) and an **OV circuit** (what it moves).
# Olsson et al. (2022), *In-context Learning and Induction Heads*, showed
# how two heads **compose** into an **induction head** that completes
# patterns it has seen earlier in the text. And the notes *Reversing tiny
# transformers* take the same road we take: attention heads move
# information, the direct path `T = W_U W_E` holds bigram statistics, next:
# induction heads.
#
# By the end you will be able to
# 1. write the forward pass of a one-layer, attention-only transformer from
#    its weights, and match the library's model;
# 2. read the direct path `W_E W_U` as bigram statistics;
# 3. read a head as a QK circuit (where to look) and an OV circuit (what to
#    move), and predict what it does before running it;
# 4. build by hand a previous-token head, then an induction head that
#    composes with it, and see the composition in the weights;
# 5. diagnose a broken head, and set the weights of a head that fetches the
#    last member of a sequence;
# 6. meet the hand-built transformer of lesson 04, whose circuit is known.
#
# Sections: 1. a corpus and a model · 2. the residual stream, and biases as
# a coordinate · 3. one head · 4. the forward pass · 5. the direct path ·
# 6. one head read as two circuits · 7. a previous-token head · 8. an
# induction head · 9. composition in the weights · 10. a broken head ·
# 11. the last-member head · 12. the hand-built transformer.
#
# **How exercises work.** Each exercise is a function you write, followed by
# a check cell that prints ✔ or says in one sentence what is wrong. Some ask
# you to *decide*: set weights so that a head does something, or diagnose a
# broken one. Some ask you to *predict*: write your prediction as a function
# that returns it, run the cells that show what happens, then run the check.
# The lesson carries on with the library's version after each exercise, so
# it runs top to bottom even before you do them.

# %%
from neuralcircuits.teaching.media import show_video

show_video("03_reverse_engineering_a_tiny_transformer")

# %%
import textwrap

import matplotlib.pyplot as plt
import torch

from neuralcircuits.science import attention_only as aot
from neuralcircuits.science import transformer_parts as tp
from neuralcircuits.teaching.tiny_transformer import figures as pictures
from neuralcircuits.teaching.tiny_transformer.checks import (
    check_attention_head,
    check_direct_path_prediction,
    check_head_reading,
    check_last_member_head,
    check_one_layer_forward,
)

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown]
# Two library modules carry the first half of the lesson: `aot`, the
# attention-only model and its corpus, and `tp`, a transformer's parts (one
# head, LayerNorm). Each later section imports what it adds.
#
# ## 1. A corpus and a model
#
# A language model is trained to predict the next token of a text. Our text
# is the course's own: the stories of lesson 04, with every member shown.
# Each story starts with the token `<bos>` ("beginning of sequence"), counts
# three to six members up from a random start in one format (numerals,
# number words or months), and uses one verb throughout. The **corpus** is
# 300,000 tokens of such stories, one after another. Here is its start,
# one token per word (the tokenizer is lesson 04's: whole words, 174 of
# them):

# %%
tokenizer = aot.tokenizer()
stream = aot.corpus()  # [300_000] token ids
words = tokenizer.convert_ids_to_tokens(stream[:62].tolist())
print(textwrap.fill(" ".join(words), 78))
print(f"... {len(stream):,} tokens, a vocabulary of {len(tokenizer)} tokens")

# %% [markdown]
# Some next tokens are certain: after a noun or a name comes `was`, after a
# verb `in`, after a member `.`. Some are not: which verb follows `was`,
# which member follows `in`. A **bigram model** predicts the next token from
# the current one alone, with the frequencies it counts in the corpus; the
# best one reaches the loss printed below (the mean of −log p(next token),
# in nats per token). The model of this lesson was trained on the corpus
# (600 steps, about 20 seconds of one CPU core; its weights ship with the
# course): it predicts better than every bigram model, because it can look
# back at the story.

# %%
model = aot.load()
cfg = model.cfg
trained = aot.read_config()
print(
    f"{cfg.n_layers} layer of {cfg.n_heads} attention heads (d_head = {cfg.d_head}), "
    f"d_model = {cfg.d_model}, no MLP, no LayerNorm"
)
print(
    f"final training loss {trained['loss_curve'][-1]:.2f}, "
    f"best bigram model {trained['bigram_loss']:.2f} nats per token"
)
fig = pictures.loss_curve(
    trained["loss_curve"], trained["training"]["loss_every"], trained["bigram_loss"]
)
plt.show()

# %% [markdown]
# ## 2. The residual stream, and biases as a coordinate
#
# The model turns the tokens into **logits**, one score per possible next
# token at every position (a softmax turns them into probabilities), in
# three steps:
#
# 1. **Embed.** Each token `t` has a vector of `d_model` = 64 numbers, row
#    `t` of the embedding matrix `W_E` `[d_vocab, d_model]` (`d_vocab` = 174
#    tokens); each position `p` has one too, row `p` of `W_pos` `[n_ctx,
#    d_model]` (`n_ctx` = 32, the longest text the model reads). Position `p`
#    starts as `x_p = W_E[t_p] + W_pos[p]`. This vector is the **residual
#    stream** at `p`.
# 2. **Attend.** Each of the four heads reads the whole stream and *adds* a
#    vector to every position; the layer adds one more bias `b_O`:
#    `resid = x + head_0(x) + head_1(x) + head_2(x) + head_3(x) + b_O`.
#    Nothing is overwritten: the stream is a sum that every part adds to
#    (Elhage et al. call it a communication channel).
# 3. **Unembed.** `logits = resid @ W_U + b_U`, with `W_U` `[d_model,
#    d_vocab]`: one score per token, at every position.
#
# A note on the way matrices are written. Lesson 01 stored a layer as `W`
# `[d_out, d_in]` and computed `x @ W.T`. TransformerLens, the library our
# models come from, stores every weight as `[d_in, d_out]`, so a row vector
# `x` is multiplied on the right, `x @ W`, with no transpose. Papers often
# write column vectors instead, `W x`: the same product, transposed. That is
# why Elhage et al. write the direct path as `W_U W_E` and we compute it as
# `W_E @ W_U`.
#
# ### Biases as one more coordinate
#
# Lesson 01's neuron computed `w·x + b`: apples at 3 per kg plus pears at 4
# per kg plus a fixed fee of 1. The heads here have biases too (a query is
# `x @ W_Q + b_Q`), and one trick turns a bias into an ordinary weight:
# give `x` one more coordinate that is **always 1**, and give `W` one more
# row that holds `b`. Then
#
# $$[x, 1] \begin{bmatrix} W \\ b \end{bmatrix} = x W + 1 \cdot b .$$
#
# The fee is the price of a coordinate that every basket has exactly one
# of. `aot.with_one` appends the 1 and `aot.fold_bias` appends the row:

# %%
x = torch.tensor([[2.0, 0.5], [1.0, 1.0]])  # two baskets: kg of apples, of pears
W = torch.tensor([[3.0], [4.0]])  # price per kg  [d_in = 2, d_out = 1]
b = torch.tensor([1.0])  # the fee
print("x @ W + b:             ", (x @ W + b).flatten().tolist())
print(
    "with_one(x) @ [W; b]:  ",
    (aot.with_one(x) @ aot.fold_bias(W, b)).flatten().tolist(),
)
print("with_one(x):", aot.with_one(x).tolist())

# %% [markdown]
# Why bother? Because with the bias folded in, a head is again nothing but
# products of matrices, and the next section reads a head through two
# such products. Keep the always-1 coordinate in mind: it comes back, with
# a name, in section 11.
#
# ## 3. One attention head, as two matrix products
#
# A head has four matrices: `W_Q`, `W_K` and `W_V` of shape `[d_model,
# d_head]` and `W_O` of shape `[d_head, d_model]`. At every position it
# computes a **query** `q_i = x_i W_Q` ("what I am looking for"), a **key**
# `k_j = x_j W_K` ("what I offer") and a **value** `v_j = x_j W_V` ("what I
# pass on"). Then:
#
# * **Scores.** Query `i` scores key `j` with the dot product `q_i · k_j /
#   sqrt(d_head)` (the division keeps scores of a sensible size whatever
#   `d_head` is). Written out, `q_i · k_j = x_i W_Q W_K^T x_j^T`: the whole
#   question "how much does position `i` want position `j`" is one
#   `[d_model, d_model]` matrix, the **QK circuit** `W_QK = W_Q W_K^T`.
# * **The mask.** A position may read only itself and earlier positions (the
#   model must not see the token it is predicting): scores of later keys
#   are set to −∞.
# * **The pattern.** A softmax over the keys turns each query's scores into
#   weights that are positive and sum to 1: the **attention pattern** `A[i,
#   j]`, "how much of its attention query `i` puts on key `j`".
# * **The output.** Position `i` receives the weighted sum of the values,
#   mapped back into the stream: `Σ_j A[i, j] v_j W_O = Σ_j A[i, j] x_j W_V
#   W_O`. Again one `[d_model, d_model]` matrix says what is moved: the
#   **OV circuit** `W_OV = W_V W_O`.
#
# So a head asks two separate questions: where to look (QK) and what to
# move from there (OV).
#
# ### Exercise 1: one head, as two matrix products
#
# **Difficulty** ●●○ · **Importance** ●●● · **Kind** fill in · about 12 minutes
#
# Write `attention_head(x, W_Q, W_K, W_V, W_O)` for `x` of shape `[batch,
# pos, d_model]`: return `(pattern, out)`, the pattern `[batch, query, key]`
# and the head's output `[batch, pos, d_model]`. Compute `W_QK` and `W_OV`
# explicitly.
#
# <details><summary>Hint 1: the scores</summary>
#
# `x @ W_QK` gives every query's "what I look for" in the stream's
# coordinates; multiplying by `x` transposed on its last two axes gives a
# score for every (query, key) pair. Do not forget the division.
# </details>
#
# <details><summary>Hint 2: the mask and the softmax</summary>
#
# `torch.ones(n, n, dtype=torch.bool).triu(1)` is True exactly above the
# diagonal, where the key comes after the query. Which value makes a
# softmax weight exactly 0, and over which axis must the weights sum to 1?
# </details>
#
# <details><summary>Solution explained</summary>
#
# `scores = x @ W_QK @ x.transpose(1, 2) / sqrt(d_head)`; mask the future
# with −∞ *before* the softmax, so the weights over the allowed keys still
# sum to 1; softmax over the last axis (the keys). The output `pattern @ x @
# W_OV` moves, to each query, the pattern-weighted mix of what `W_OV` makes
# of the keys' vectors.
# </details>


# %% tags=["exercise"]
def attention_head(x, W_Q, W_K, W_V, W_O):
    """(pattern [batch, q, k], output [batch, pos, d_model]) of one causal head."""
    # BEGIN SOLUTION
    W_QK = W_Q @ W_K.T  # [d_model, d_model]: where to look
    W_OV = W_V @ W_O  # [d_model, d_model]: what to move
    n = x.shape[1]
    scores = x @ W_QK @ x.transpose(1, 2) / W_Q.shape[1] ** 0.5  # [batch, q, k]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    pattern = scores.masked_fill(future, float("-inf")).softmax(-1)
    return pattern, pattern @ x @ W_OV
    # END SOLUTION


# %% tags=["check"]
check_attention_head(attention_head)

# %% [markdown]
# The library's `tp.attention_head` is the same function; the rest of the
# lesson uses it.
#
# ## 4. The forward pass, from the weights
#
# `aot.weights(model)` hands you every weight of the model as a dict of
# tensors: `W_E`, `W_pos`, `W_U`, `b_U` as above, and for the heads `W_Q`,
# `W_K`, `W_V` `[n_heads, d_model, d_head]`, their biases `b_Q`, `b_K`,
# `b_V` `[n_heads, d_head]`, `W_O` `[n_heads, d_head, d_model]` and the
# layer's `b_O` `[d_model]`.

# %%
w = aot.weights(model)
for name, tensor in w.items():
    print(f"{name:6s} {tuple(tensor.shape)}")

# %% [markdown]
# ### Exercise 2: a one-layer transformer by hand
#
# **Difficulty** ●●○ · **Importance** ●●● · **Kind** fill in · about 15 minutes
#
# Write `one_layer_forward(w, tokens)`: for token ids `tokens` `[batch,
# pos]` and a dict `w` as above (any number of heads, any sizes), return
# the logits `[batch, pos, d_vocab]`. The check compares them with the
# library's model on a story and two pieces of the corpus, and with a model
# of another shape.
#
# <details><summary>Hint 1: the three steps</summary>
#
# Embed (token and position), let every head add its output, add `b_O`
# once, unembed. `W_pos[:n]` holds the positions of a sequence of `n`
# tokens.
# </details>
#
# <details><summary>Hint 2: a head with biases</summary>
#
# Either add each bias where it belongs (`x @ W_Q[h] + b_Q[h]`, and the same
# for keys and values), or fold them in with section 2's trick and call
# `tp.attention_head(aot.with_one(x), ...)` with the folded matrices (`W_O`
# has no bias of its own: `b_O` belongs to the layer).
# </details>
#
# <details><summary>Solution explained</summary>
#
# `x = W_E[tokens] + W_pos[:n]`; then `resid = x + b_O`, and for each head
# `resid += out` with `out` from `tp.attention_head` on `with_one(x)` and
# the folded `W_Q`, `W_K`, `W_V`; finally `resid @ W_U + b_U`. The usual
# slips, each of which the check names: forgetting the positions, dropping
# `x` from the sum (the direct path), forgetting a bias, adding only one
# head, returning probabilities instead of logits.
# </details>


# %% tags=["exercise"]
def one_layer_forward(w: dict, tokens: torch.Tensor) -> torch.Tensor:
    """The logits [batch, pos, d_vocab] of a one-layer attention-only transformer."""
    # BEGIN SOLUTION
    x = w["W_E"][tokens] + w["W_pos"][: tokens.shape[1]]  # [batch, pos, d_model]
    resid = x + w["b_O"]
    for h in range(w["W_Q"].shape[0]):
        W_Q = aot.fold_bias(w["W_Q"][h], w["b_Q"][h])  # [d_model + 1, d_head]
        W_K = aot.fold_bias(w["W_K"][h], w["b_K"][h])
        W_V = aot.fold_bias(w["W_V"][h], w["b_V"][h])
        _, out = tp.attention_head(aot.with_one(x), W_Q, W_K, W_V, w["W_O"][h])
        resid = resid + out
    return resid @ w["W_U"] + w["b_U"]
    # END SOLUTION


# %% tags=["check"]
check_one_layer_forward(one_layer_forward)

# %% [markdown]
# The library's version, `aot.forward(w, tokens)`, returns the logits and
# every head's pattern. On the story this lesson reads (lesson 04's
# question, one member left open), it agrees with the model itself, which
# TransformerLens runs, to float rounding:

# %%
story = aot.story_tokens(aot.STORY)  # [1, pos]
story_words = tokenizer.convert_ids_to_tokens(story[0].tolist())
logits, patterns = aot.forward(w, story)  # [1, pos, d_vocab], [1, head, q, k]
with torch.no_grad():
    library_logits, cache = model.run_with_cache(story)
print(textwrap.fill(aot.STORY, 78))
gap = (logits - library_logits).abs().max()
print(f"largest difference from the model's logits: {gap:.1e}")
answer = tokenizer.convert_ids_to_tokens(int(logits[0, -1].argmax()))
p_answer = logits[0, -1].softmax(-1).max()
print(f"the model's next token: {answer!r}, probability {p_answer:.1%}")

# %% [markdown]
# The model answers the story right. To see *how*, we need its insides.
# `model.run_with_cache(tokens)` runs the model once and keeps every
# intermediate activation in `cache`, under a **hook name** such as
# `blocks.0.attn.hook_pattern` (block 0's attention pattern, `[batch,
# head, query, key]`) or `blocks.0.hook_resid_post` (the residual stream
# after block 0). A **hook** is a function the model calls on an activation
# as it computes it; it can read the activation, or replace it (section 12
# does). The patterns in the cache are the ones your forward pass
# computes:

# %%
print(
    "largest difference from the cached pattern:",
    f"{(patterns - cache['blocks.0.attn.hook_pattern']).abs().max():.1e}",
)
names = [k for k in cache if k.startswith("blocks.0.attn.hook")]
print(textwrap.fill("some hook names: " + ", ".join(names), 78))

# %% [markdown]
# ## 5. The direct path: bigram statistics
#
# Write the logits out term by term. With `x = W_E[t] + W_pos[p]`,
#
# $$\text{logits} = \underbrace{W_E[t]\, W_U}_{\text{direct path}} +
# W_{pos}[p]\, W_U + \sum_h \text{head}_h(x)\, W_U + b_O W_U + b_U .$$
#
# The first term depends on the current token and nothing else: it is row
# `t` of the `[d_vocab, d_vocab]` table `W_E @ W_U`, the **direct path**
# (Elhage et al.'s `W_U W_E`). It is what the model would say if its heads
# were silent and positions did not matter: a bigram model, stored in the
# weights. Training pushes it towards the corpus's bigram statistics, and
# leaves to the heads what the current token alone cannot know.
#
# ### Exercise 3: predict the direct path
#
# **Difficulty** ●○○ · **Importance** ●●● · **Kind** predict · about 5 minutes
#
# Before looking: for each of the current tokens `"Desk"`, `"was"`,
# `"done"`, `"in"`, `"5"` and `"."`, which *kind* of token will have the
# largest direct-path logit, the direct path's top next token? Answer with a
# dict from each token to one of the kinds in `aot.KINDS`: `"<bos>"`,
# `"word"` (a noun or a name), `"was"`, `"verb"`, `"in"`, `"member"` and
# `"."`. The next cell shows the answer; the check comes after it.
#
# <details><summary>Hint</summary>
#
# Count, in the stories printed in section 1, what follows each of the six.
# The top token is the single most frequent next *token*, which need not
# be of the most frequent *kind*: after `"."`, how often does a story end,
# and how many different words could start the next sentence?
# </details>
#
# <details><summary>Solution explained</summary>
#
# `"Desk"` → `"was"`, `"was"` → a verb, `"done"` → `"in"`, `"in"` → a
# member, `"5"` → `"."`: the bigrams of the template. After `"."` the top
# token is `"<bos>"`: a story ends after about one full stop in five, and
# each of the 129 words that can start a sentence follows `"."` less than
# 1% of the time, so the one token `"<bos>"` beats each of them, though
# "some word" is the likelier kind.
# </details>


# %% tags=["exercise"]
def predict_direct_path() -> dict:
    """Your prediction: current token -> the kind of the direct path's top next token."""
    # BEGIN SOLUTION
    return {
        "Desk": "was",
        "was": "verb",
        "done": "in",
        "in": "member",
        "5": ".",
        ".": "<bos>",
    }
    # END SOLUTION


# %% [markdown]
# The reveal: the direct path's three largest next tokens for each (with
# the probability its softmax gives them), beside the three most frequent
# in the corpus.

# %%
direct = aot.direct_path(w)  # [d_vocab (current), d_vocab (next)]
bigrams = aot.bigram_log_probs(stream, len(tokenizer))  # log p(next | current)


def top3(probs: torch.Tensor, digits: int) -> str:
    """The three most probable tokens, with their probabilities."""
    values, indices = probs.topk(3)
    return ", ".join(
        f"{tokenizer.convert_ids_to_tokens(int(i))} {p:.{digits}f}"
        for p, i in zip(values, indices, strict=True)
    )


print(f"{'current':>7}  {'direct path, softmax':32s}  corpus")
for current in ["Desk", "was", "done", "in", "5", "."]:
    row = tokenizer.convert_tokens_to_ids(current)
    path, corpus = top3(direct[row].softmax(-1), 3), top3(bigrams[row].exp(), 2)
    print(f"{current:>7}  {path:32s}  {corpus}")

# %% tags=["check"]
check_direct_path_prediction(predict_direct_path)

# %% [markdown]
# The direct path ranks the next tokens as the corpus does, but its
# probabilities are small (it gives `"was"` after `"Desk"` a few percent,
# where the corpus says 1): the direct path is one of several terms, and
# the heads and biases add the rest of the confidence. What carries over
# is the *shape* of each row. Over every bigram the corpus contains, the
# direct path's log-softmax and the measured log-probability rise
# together:

# %%
r, measured, path_logp = aot.bigram_agreement(direct, stream)
seen_share = aot.top_next_is_seen(direct, stream)
print(f"{len(measured)} bigrams occur in the corpus; correlation r = {r:.2f}")
print(
    f"for {seen_share:.0%} of the tokens, the direct path's top next token is "
    "one the corpus shows after it"
)
fig = pictures.bigram_scatter(measured, path_logp, r)
plt.show()

# %% [markdown]
# What the direct path cannot know, the heads must bring. Per kind of next
# token, here is the best bigram model's loss beside the model's, on 256
# pieces of corpus of 32 tokens:

# %%
windows = aot.corpus(seed=1, n_tokens=256 * 32).reshape(256, 32)
losses = aot.losses_by_kind(w, windows, stream)
print(f"{'next token':>10}  {'bigram loss':>11}  {'model loss':>10}")
for kind, (bigram_loss, model_loss, _) in losses.items():
    print(f"{kind:>10}  {bigram_loss:11.2f}  {model_loss:10.2f}")

# %% [markdown]
# The rows with a bigram loss of 0 are the certain bigrams: the direct path
# has them, and the model matches them. The model gains most on the verbs
# and the members. The right verb is the one the story has used before,
# the right member the successor of the last one: both sit earlier in the
# text, and only attention can fetch them.

# %% [markdown]
# ## 6. One head, read as a QK circuit and an OV circuit
#
# The story ends `"... Desk was done in 6. Sun was done in"`, and the model
# answers `"7"`. The current token, `"in"`, says only "a member comes
# next". Some head must fetch the member that decides which one.
#
# ### Exercise 4: where does the answer come from?
#
# **Difficulty** ●●○ · **Importance** ●●● · **Kind** predict · about 8 minutes
#
# The story's tokens and their positions are printed below. Predict two
# things before the reveal: the **position** of the token that the head
# answering `"7"` must read from the final `"in"`, and the **token** that
# head's OV circuit writes most strongly when it reads that position.
# Return them as a pair, e.g. `(7, "Hat")`.
#
# <details><summary>Hint</summary>
#
# Which earlier token determines the answer? And a head that merely copied
# it, what would that make the model say?
# </details>
#
# <details><summary>Solution explained</summary>
#
# The answer is the successor of the last member, `"6"` at position 23. A
# head that copied `"6"` would vote for `"6"`; the model says `"7"`, so the
# head that reads `"6"` must write `"7"`: its OV circuit maps a member to
# the next one, a **successor head** (Gould et al. 2023), the same kind of
# head lesson 04 finds in GPT-2.
# </details>

# %%
print(textwrap.fill(" ".join(f"{w}:{p}" for p, w in enumerate(story_words)), 78))


# %% tags=["exercise"]
def predict_head_reading() -> tuple:
    """Your prediction: (the position the answer is read from, the token that head writes)."""
    # BEGIN SOLUTION
    return 23, "7"
    # END SOLUTION


# %% [markdown]
# **Where each head looks.** Row `h` of the picture is head `h`'s pattern
# from the final `"in"`, over every earlier position:

# %%
fig = pictures.final_query_attention(patterns[0], story_words)
plt.show()
last_member = story_words.index("6")
print(
    f"head 0 puts {patterns[0, 0, -1, last_member]:.1%} of the final 'in''s "
    f"attention on {story_words[last_member]!r} at position {last_member}"
)

# %% [markdown]
# **Why there: the QK circuit.** A score is `q · k / sqrt(d_head)` with
# `k_j = (W_E[t_j] + W_pos[j]) W_K + b_K`, so every key's score is a sum of
# two parts: one from *what* the key is (its token) and one from *where* it
# is (its position). `aot.qk_parts` splits head 0's scores from the final
# `"in"` that way:

# %%
token_part, position_part = aot.qk_parts(w, 0, story)
fig = pictures.qk_parts(token_part, position_part, story_words)
plt.show()
kinds = aot.token_kinds(tokenizer)  # "member", "word", "in", ... per token id
members = [i for i, t in enumerate(story[0].tolist()) if kinds[t] == "member"]
print(
    "token part: members",
    [round(float(token_part[i]), 1) for i in members],
    f"<bos> {token_part[0]:.1f}, 'in' {token_part[-1]:.1f}",
)
print(
    f"position part: {position_part[0]:.1f} at position 0, "
    f"{position_part[:-1].max():.1f} at its largest, before the query"
)

# %% [markdown]
# Read the two parts. By token, the head likes members and `<bos>` and
# dislikes `"in"`; by position, it likes the recent past. Their sum is
# largest at the latest member, and the softmax turns a lead of a few
# points into almost all the attention (a difference of 7 in score is a
# factor e⁷ ≈ 1100 in weight). Nobody told the model to build "members
# first, then the latest": training found it. You will build the same
# design by hand in section 11.
#
# **What it moves: the OV circuit.** Head 0's full OV circuit, `W_E W_V W_O
# W_U` (`aot.full_ov`), is again a `[d_vocab, d_vocab]` table: row `a` is
# what the head adds to every logit when it puts all its attention on a
# token `a`. Read on the members, one panel per format:

# %%
ov_members = aot.ov_on_members(w, 0, tokenizer)  # [36 members, 36 members]
fig = pictures.ov_members(ov_members, ["numerals", "number words", "months"])
plt.show()
hits, total = aot.successor_map(w, 0, tokenizer)
print(
    f"for {hits} of the {total} members that have a successor, head 0's largest "
    "member logit is the successor"
)
row_6 = aot.full_ov(w, 0)[tokenizer.convert_tokens_to_ids("6")]
print(
    "reading '6', head 0 writes:",
    ", ".join(
        f"{tokenizer.convert_ids_to_tokens(int(i))} {v:+.1f}"
        for v, i in zip(*row_6.topk(4), strict=True)
    ),
    f"... and '6' itself {row_6[tokenizer.convert_tokens_to_ids('6')]:+.1f}",
)

# %% tags=["check"]
check_head_reading(predict_head_reading)

# %% [markdown]
# The stripe just above the diagonal is the successor map: head 0 reads a
# member and writes the next one, in the same format. So one head does
# lesson 04's whole task here: its QK circuit finds the last member, its
# OV circuit adds one. (A one-layer model has no other way: everything the
# heads do must be done in one step from the embeddings.) What the other
# three heads do is a further exercise.
#
# ## 7. Build a head by hand: the previous-token head
#
# Reading a trained head is reverse-engineering. Now we go the other way,
# as lesson 02 did with ReLU networks: we build heads by hand, in a
# residual stream whose every direction has a name, and then use them to
# read trained ones. Our goal is the **induction head** of Olsson et al.
# (2022): in a text `"... A B ... A"`, it predicts `B`, completing a pattern
# it has seen earlier. Large language models have them, and they appear
# early in training, at the same moment models start to get better at
# using long contexts.
#
# One head cannot do it: at the second `A`, the head must find the `B`, but
# nothing about `B` says "I come after an `A`". It takes two heads, in two
# layers. First a **previous-token head**: every position attends to the
# position just before it and copies that token into its own stream. After
# it, the `B` does carry "the token before me was `A`".
#
# The module `ind` (for induction) holds the stream and the heads. Its
# tokens are `<bos>` and ten letters, and its residual stream has 57
# directions in four named blocks (slices of the vector):
#
# | block | size | written by | holds |
# |---|---|---|---|
# | `ind.TOKEN` | 11 | the embedding | this position's token, one-hot |
# | `ind.PREV` | 11 | the previous-token head | the token before this position |
# | `ind.POS` | 24 | the positional embedding | this position, one-hot |
# | `ind.OUT` | 11 | the induction head | the predicted next token |
#
# The unembedding reads only `OUT`: the model predicts whatever the heads
# write there. `ind.run(x, layers)` runs heads on a stream, layer by
# layer, each layer adding its heads' outputs.

# %%
from neuralcircuits.science import induction as ind
from neuralcircuits.teaching.tiny_transformer.induction_checks import (
    check_diagnosis,
    check_induction_head,
    check_previous_token_head,
    check_two_copies,
)

repeated = ind.repeated_sequences(n=32, length=10, seed=0)  # [32, 21]
x_letters = ind.embed(repeated)  # [32, 21, 57]
print("a repeated sequence:", ind.decode(repeated[0]), "(^ is <bos>)")
print("TOKEN block of positions 0-3:\n", x_letters[0, :4, ind.TOKEN])
print(
    "POS block of positions 0-3 (first 6 columns):\n", x_letters[0, :4, ind.POS][:, :6]
)

# %% [markdown]
# ### Exercise 5: a previous-token head
#
# **Difficulty** ●●○ · **Importance** ●●● · **Kind** design · about 15 minutes
#
# Write `previous_token_head()` returning `(W_Q, W_K, W_V, W_O)` (shapes
# `[57, d_head]` for the first three and `[d_head, 57]` for `W_O`; you
# choose `d_head`) such that every position `p ≥ 1` puts at least 90% of
# its attention on `p − 1`, and the head writes that token's one-hot into
# `PREV`, and nothing into the other blocks. The check runs it on repeated
# sequences and on random letters filling all 24 positions.
#
# <details><summary>Hint 1: which block tells a head where a key is?</summary>
#
# The query of position `p` should look for "position `p − 1`", and the key
# of position `j` should say "I am position `j`". Both read `POS`. What
# matrix `W_QK` on the `POS` block gives a score only when `j = p − 1`?
# </details>
#
# <details><summary>Hint 2: how sharp?</summary>
#
# The scores are divided by `sqrt(d_head)`, and up to 23 other keys compete
# with the right one. A score of about 10 for the right key against 0 for
# the others gives it e¹⁰ ≈ 22,000 times the weight of each.
# </details>
#
# <details><summary>Solution explained</summary>
#
# With `d_head = 24`, `W_K[POS] = I` makes key `j`'s vector the one-hot of
# `j`; `W_Q[POS.start + p, p − 1] = 10·sqrt(24)` makes query `p`'s vector
# point at `p − 1`: `W_QK` on `POS` is a *shift matrix*. For the OV circuit,
# `W_V` reads `TOKEN` into the first 11 head dimensions and `W_O` writes
# them into `PREV`: `W_OV` maps `TOKEN[t]` to `PREV[t]`. Writing into
# `TOKEN` instead would overwrite the current token, which the next layer
# still needs.
# </details>


# %% tags=["exercise"]
def previous_token_head():
    """(W_Q, W_K, W_V, W_O): each position attends to the one before it and copies its token into PREV."""
    # BEGIN SOLUTION
    d_head = ind.N_CTX
    W_Q = torch.zeros(ind.D_MODEL, d_head)
    W_K = torch.zeros(ind.D_MODEL, d_head)
    for p in range(1, ind.N_CTX):
        W_Q[ind.POS.start + p, p - 1] = 10 * d_head**0.5  # "I look for p - 1"
    W_K[ind.POS] = torch.eye(ind.N_CTX)  # "I am position j"
    W_V = torch.zeros(ind.D_MODEL, d_head)
    W_O = torch.zeros(d_head, ind.D_MODEL)
    W_V[ind.TOKEN, : ind.N_TOKENS] = torch.eye(ind.N_TOKENS)  # read my token ...
    W_O[: ind.N_TOKENS, ind.PREV] = torch.eye(ind.N_TOKENS)  # ... write it into PREV
    return W_Q, W_K, W_V, W_O
    # END SOLUTION


# %% tags=["check"]
check_previous_token_head(previous_token_head)

# %% [markdown]
# The library's version is `ind.previous_token_head()`. After it, `PREV`
# at every position holds the token before it:

# %%
prev_head = ind.previous_token_head()
after_layer_0, _ = ind.run(x_letters, [[prev_head]])
print("tokens:          ", ind.decode(repeated[0]))
print("PREV, read back: ", " " + ind.decode(after_layer_0[0, 1:, ind.PREV].argmax(-1)))

# %% [markdown]
# ## 8. An induction head, by K-composition
#
# Now the second layer. At a position holding `A`, the induction head
# should attend to the position whose `PREV` holds `A`: that is the `B`
# that came after the earlier `A`. Then its OV circuit copies `B` (the key's
# own `TOKEN`) into `OUT`. The head's *keys* are built from what another
# head wrote: Elhage et al. call this **K-composition**. (Reading another
# head's output in the queries is Q-composition, in the values
# V-composition.)
#
# ### Exercise 6: an induction head
#
# **Difficulty** ●●● · **Importance** ●●● · **Kind** design · about 20 minutes
#
# Write `induction_head()` returning `(W_Q, W_K, W_V, W_O)` for layer 1,
# above the library's previous-token head, such that on repeated sequences
# every position of the second half puts at least 90% of its attention on
# the token after the earlier copy of its own token, and writes that
# token into `OUT`, where the unembedding reads it.
#
# <details><summary>Hint 1: the QK circuit</summary>
#
# Which block says "I am `A`" at the query, and which says "the token before
# me was `A`" at the key? `W_QK` should pair their matching directions.
# </details>
#
# <details><summary>Hint 2: the OV circuit</summary>
#
# At the key it found, which block holds the token to predict: `TOKEN` or
# `PREV`? And where must it go?
# </details>
#
# <details><summary>Solution explained</summary>
#
# With `d_head = 11`: `W_Q[TOKEN] = I · 10·sqrt(11)` (the query is the
# current token) and `W_K[PREV] = I` (the key is the previous token), so
# `W_QK` pairs `TOKEN[a]` with `PREV[a]`. `W_V[TOKEN] = I` and `W_O[:, OUT]
# = I` copy the key's own token into `OUT`. Reading `TOKEN` in the keys
# gives a head that attends to the earlier `A` itself and to the current
# position; reading `PREV` in the values makes it predict `A` again.
# </details>


# %% tags=["exercise"]
def induction_head():
    """(W_Q, W_K, W_V, W_O): attend to the token after an earlier copy of mine and predict it."""
    # BEGIN SOLUTION
    d_head = ind.N_TOKENS
    W_Q = torch.zeros(ind.D_MODEL, d_head)
    W_K = torch.zeros(ind.D_MODEL, d_head)
    W_Q[ind.TOKEN] = torch.eye(ind.N_TOKENS) * 10 * d_head**0.5  # "I am A"
    W_K[ind.PREV] = torch.eye(ind.N_TOKENS)  # "the token before me was A"
    W_V = torch.zeros(ind.D_MODEL, d_head)
    W_O = torch.zeros(d_head, ind.D_MODEL)
    W_V[ind.TOKEN] = torch.eye(ind.N_TOKENS)  # read the key's own token ...
    W_O[:, ind.OUT] = torch.eye(ind.N_TOKENS)  # ... and predict it
    return W_Q, W_K, W_V, W_O
    # END SOLUTION


# %% tags=["check"]
check_induction_head(induction_head)

# %% [markdown]
# With the library's two heads, `ind.previous_token_head()` in layer 0 and
# `ind.induction_head()` in layer 1, here are both patterns on one repeated
# sequence. Layer 0 is the line just left of the diagonal (every position
# looks one back); layer 1, in the second half, is a line 9 positions
# (`length − 1`) left of the diagonal: each token looks at the token after
# its earlier copy.

# %%
ind_head = ind.induction_head()
stream_out, (pattern_0, pattern_1) = ind.run(x_letters, [[prev_head], [ind_head]])
text = ind.decode(repeated[0])
fig = pictures.induction_patterns(
    [pattern_0[0, 0], pattern_1[0, 0]],
    text,
    ["layer 0: previous-token head", "layer 1: induction head"],
)
plt.show()

# %% [markdown]
# And what the pair predicts, position by position: the probability it
# gives the right next token, averaged over 32 repeated sequences.

# %%
scores = ind.score_induction(prev_head, ind_head, repeated)
probs = ind.next_token_probs(prev_head, ind_head, repeated)  # [32, 20]
fig = pictures.next_token_probability(probs, length=10)
plt.show()
print(
    f"top-1 right: {scores['first_half_accuracy']:.0%} of the first half, "
    f"{scores['accuracy']:.0%} of the second"
)

# %% [markdown]
# In the first half the letters are new, and an induction head can only
# predict what it has seen: it gets none right. In the second half it gets
# every one. That jump is how Olsson et al. recognise induction heads in
# trained models: the loss on the repeated half of random token sequences
# falls far below the loss on the first.
#
# ### Exercise 7: two earlier copies
#
# **Difficulty** ●●○ · **Importance** ●●○ · **Kind** predict · about 5 minutes
#
# Run the same two heads on `ind.TWO_COPIES`, `"ABCDAEFGA"`. The final `A`
# has two earlier copies: one followed by `B`, one by `E`. Predict the
# share of the final `A`'s attention on the `B` and on the `E`, as a pair
# `(share on B, share on E)`. Look at the induction head's QK circuit, not
# at what a person would guess.
#
# <details><summary>Hint</summary>
#
# Which keys match the final `A`'s query, and does anything in `W_QK` care
# how long ago a key came? Section 6's trained head had a position part;
# does this one?
# </details>
#
# <details><summary>Solution explained</summary>
#
# Both `B` and `E` have `PREV = A`, so both score 10; every other key scores
# 0. Nothing in this head reads `POS`, so it cannot prefer the recent copy:
# it splits its attention evenly, `(0.5, 0.5)`, and predicts `B` and `E`
# with about equal weight. A head that preferred the latest copy would
# need a position part in its keys, like section 6's head 0.
# </details>


# %% tags=["exercise"]
def predict_two_copies() -> tuple:
    """Your prediction: (share of the final A's attention on B, share on E)."""
    # BEGIN SOLUTION
    return 0.5, 0.5
    # END SOLUTION


# %%
two = ind.encode(ind.TWO_COPIES)[None]  # [1, 10]: <bos> A B C D A E F G A
two_stream, (_, two_pattern) = ind.run(ind.embed(two), [[prev_head], [ind_head]])
final = two_pattern[0, 0, -1]  # the final A's attention over the 10 positions
predicted = ind.logits(two_stream)[0, -1].softmax(-1)
for letter in "BE":
    pos = ind.TWO_COPIES.index(letter) + 1  # + 1 for <bos>
    token = ind.TOKENS.index(letter)
    print(
        f"on {letter} (position {pos}): {final[pos]:.2f} of the attention; "
        f"p(next = {letter}) = {predicted[token]:.2f}"
    )

# %% tags=["check"]
check_two_copies(predict_two_copies)

# %% [markdown]
# ## 9. Composition, in the weights
#
# We built the composition, so we know it is there. In a trained model we
# would not know, and Elhage et al. propose to look for it in the weights:
# when head 2's keys read what head 1 writes, the product of head 1's
# `W_OV` (what it writes) and head 2's `W_QK` (what its keys read) is large.
# Their **composition score** compares the size of the product with the
# sizes of its factors, with the Frobenius norm `‖M‖_F` (the square root
# of the sum of the squares of the entries):
#
# $$\frac{\lVert W_A W_B \rVert_F}{\lVert W_A \rVert_F \, \lVert W_B
# \rVert_F} \in [0, 1].$$
#
# With our row vectors, the first head writes `x W_OV1`; the second reads
# it in its queries through `W_OV1 W_QK2` (Q-composition), in its keys
# through `W_OV1 W_QK2^T` (K-composition) and in its values through `W_OV1
# W_OV2` (V-composition). A score means little alone: two random matrices
# of these shapes also have a product, so the baseline is the score of
# random heads with the same shapes (Gaussian weights, 200 pairs):

# %%
composition = ind.composition_scores(prev_head, ind_head)
baseline = ind.random_baseline(n=200)
for kind in composition:
    print(
        f"{kind}-composition: {composition[kind]:.2f}   random heads: "
        f"{baseline[kind].mean():.2f} ± {baseline[kind].std():.2f} "
        f"(largest {baseline[kind].max():.2f})"
    )
fig = pictures.composition_bars(composition, baseline)
plt.show()

# %% [markdown]
# K-composition stands out, far above every random pair, and Q and V are
# exactly 0: the induction head's queries and values read `TOKEN`, where
# the previous-token head writes nothing. (Why 0.30 and not 1? The score
# is 1 only for two rank-1 matrices that line up; our `W_OV` copies 11
# tokens at once, and the score of a pair of such copying maps is
# `1/sqrt(11)` ≈ 0.30.)
#
# ## 10. A broken head
#
# Composition scores and patterns are diagnostic tools. Here are three
# induction heads that each have **one** wrong matrix, `ind.broken_heads()`.
# All three fail the same way:

# %%
broken = ind.broken_heads()
second = ind.second_half(repeated)
for name, head in broken.items():
    out, _ = ind.run(x_letters, [[prev_head], [head]])
    predicted = ind.logits(out).argmax(-1)[:, second]
    again = (predicted == repeated[:, second]).float().mean()
    accuracy = ind.score_induction(prev_head, head, repeated)["accuracy"]
    print(
        f"head {name}: second-half accuracy {accuracy:.0%}; "
        f"predicts the current token again at {again:.0%} of positions"
    )

# %% [markdown]
# ### Exercise 8: diagnose the broken heads
#
# **Difficulty** ●●○ · **Importance** ●●● · **Kind** diagnose · about 12 minutes
#
# For each of the heads `"a"`, `"b"` and `"c"`, find which of its four
# matrices is wrong. Return a dict such as `{"a": "W_Q", "b": "W_O", "c":
# "W_K"}`. The check repairs each head by putting the working head's
# matrix in place of the one you name, and measures whether it works.
# Investigate in cells of your own, or inside the function: look at where
# each head attends, `_, (_, p) = ind.run(x_letters, [[prev_head],
# [broken["a"]]])` gives its pattern `p` (`pictures.induction_patterns`
# draws one), and at its composition scores with the previous-token head,
# `ind.composition_scores(prev_head, broken["a"])`.
#
# <details><summary>Hint 1: same symptom, different causes</summary>
#
# A head that predicts the current token again either attends to a place
# that holds it, or attends to the right place and copies the wrong block
# from there. The pattern tells the two apart.
# </details>
#
# <details><summary>Hint 2: two heads with the same pattern</summary>
#
# If two heads attend the same way, compare their Q-, K- and
# V-composition scores: which of the induction head's reads involve
# `PREV`, and which matrices do those reads go through?
# </details>
#
# <details><summary>Solution explained</summary>
#
# Head `a` attends to the earlier copy of the current token (and to
# itself), and has no composition at all: its keys read `TOKEN`, so `W_K`
# is wrong. Head `b` attends the same way but has Q- *and* K-composition:
# its keys read `PREV` as they should, and its queries read `PREV` too, so
# `W_Q` is wrong. Head `c` attends to the right place, with K- and
# V-composition: it copies `PREV` (the current token, seen from the key)
# instead of `TOKEN`, so `W_V` is wrong.
# </details>


# %% tags=["exercise"]
def diagnose_broken_heads() -> dict:
    """Your diagnosis: broken head name -> the name of its faulty matrix."""
    # BEGIN SOLUTION
    for name, head in broken.items():  # where each looks, and what composes
        _, (_, p) = ind.run(x_letters, [[prev_head], [head]])
        back = (second - p[0, 0, second].argmax(-1))[:3].tolist()
        scores = {
            k: round(v, 2) for k, v in ind.composition_scores(prev_head, head).items()
        }
        print(f"head {name} looks {back} positions back; composition {scores}")
    return {"a": "W_K", "b": "W_Q", "c": "W_V"}
    # END SOLUTION


# %% tags=["check"]
check_diagnosis(diagnose_broken_heads)

# %% [markdown]
# ## 11. Set the last-member head by hand
#
# Back to lesson 04's task. Section 6's trained head 0 found the last member
# with two scores: one for "this key is a member" and one that grows with
# the key's position. (Its member score, about 10, is enough in its stories,
# where the last member is never more than five tokens back.) You now build
# that head by hand, for prompts where it can be much further back, in
# a residual stream of 15 named directions (`tp.D_MODEL`), the stream of
# lesson 04's prompts cut down to what the head needs:
#
# * `tp.MEMBER_DIMS` (0 to 11): which member sits here (one-hot, only at
#   members);
# * `tp.IS_MEMBER` (12): 1 at a member's position;
# * `tp.POSITION` (13): the position index `p` itself, as a number;
# * `tp.CONSTANT` (14): 1 at every position.
#
# `CONSTANT` is section 2's always-1 coordinate: the weight a matrix puts on
# it is a bias. A query built from `CONSTANT` alone is the same at every
# position, so the score of a key then depends on the key alone.
#
# ### Exercise 9: the last-member head
#
# **Difficulty** ●●● · **Importance** ●●● · **Kind** design · about 20 minutes
#
# Write `last_member_head()` returning `(W_Q, W_K, W_V, W_O)` such that the
# final position attends (almost) only to the **last** member, and the head
# writes that member's one-hot into `MEMBER_DIMS`, and nothing into the
# other directions. The check runs it on prompts of 18 to 40 positions with
# 3 to 5 members at varying gaps (at least 2 apart), counting up or in no
# particular order.
#
# <details><summary>Hint 1: the QK circuit</summary>
#
# Give every query the same vector (from `CONSTANT`). Then pick the keys'
# two scores as head 0 did: one from `IS_MEMBER`, one from `POSITION`.
# Which must be larger, given that a prompt can be 40 positions long?
# </details>
#
# <details><summary>Hint 2: the OV circuit</summary>
#
# `W_OV = W_V W_O` should copy the 12 member directions onto themselves and
# ignore the rest. What is the smallest `d_head` that can carry 12
# independent directions?
# </details>
#
# <details><summary>Solution explained</summary>
#
# With `W_Q[CONSTANT, 0] = W_Q[CONSTANT, 1] = sqrt(d_head)` (cancelling the
# scaling), `W_K[IS_MEMBER, 0] = 1000` and `W_K[POSITION, 1] = 4`, the score
# of key `j` is `1000 · is_member(j) + 4 j`: members beat non-members, and a
# member two positions later scores 8 more, a factor e⁸ ≈ 3000 after the
# softmax. `W_V` and `W_O` are identities on the member directions, so
# `d_head` is at least 12.
# </details>


# %% tags=["exercise"]
def last_member_head():
    """(W_Q, W_K, W_V, W_O) of a head that attends to the last member and copies it."""
    # BEGIN SOLUTION
    d_head = 12
    W_Q = torch.zeros(tp.D_MODEL, d_head)
    W_K = torch.zeros(tp.D_MODEL, d_head)
    W_Q[tp.CONSTANT, :2] = d_head**0.5  # every query: "find the key with the top score"
    W_K[tp.IS_MEMBER, 0] = 1000.0  # members first ...
    W_K[tp.POSITION, 1] = 4.0  # ... and of them, the latest
    W_V = torch.zeros(tp.D_MODEL, d_head)
    W_V[tp.MEMBER_DIMS] = torch.eye(12)  # read which member ...
    W_O = torch.zeros(d_head, tp.D_MODEL)
    W_O[:, tp.MEMBER_DIMS] = torch.eye(12)  # ... and write it back
    return W_Q, W_K, W_V, W_O
    # END SOLUTION


# %% tags=["check"]
check_last_member_head(last_member_head)

# %% [markdown]
# The library's version, `tp.last_member_head()`, on random prompts:

# %%
streams = tp.member_streams(n=64, length=24, seed=0)
member_scores = tp.score_last_member_head(tp.last_member_head(), streams)
print(
    f"attention from the final position to the last member: "
    f"{member_scores['attention']:.1%}"
)
print(
    f"last member copied in {member_scores['copied']:.0%} of prompts "
    f"(strength {member_scores['copy_strength']:.2f})"
)

# %% [markdown]
# This head *moves* the last member to the final position, and stops
# there. Trained head 0 did more: its OV circuit added one. A hand-built
# model can split the two jobs between two heads, as the next section's
# does.
#
# ## 12. The hand-built transformer of lesson 04
#
# The library's `hand_built_transformer` (`hb`) is this lesson's ideas
# finished, as a real TransformerLens model on lesson 04's prompts: two
# layers of two heads and a small MLP in each, every weight set by hand, no
# training, no LayerNorm. Head 0.0 (layer 0, head 0) is a **mover** like
# your last-member head; head 1.0 is a **successor head** that reads, at the
# final `"in"`, what the mover left there, and writes a vote for the next
# member: V-composition. The other components are **bystanders**: active,
# but nothing the answer depends on reads them. Its roles, and how it does
# lesson 04's three tasks (the prompts of lesson 04: four members shown,
# the fifth to say):

# %%
from neuralcircuits.science import hand_built_transformer as hb
from neuralcircuits.science import sequences
from neuralcircuits.science.hooks import hook_name

hand = hb.build()
for component, role in hb.ROLES.items():
    print(f"{component:<6}{role}")
prompts = {
    task: sequences.make_dataset(hand, task, "clean", "all", n=60, seed=0)
    for task in sequences.TASKS
}
for task, data in prompts.items():
    print(f"{task:<13} top-1 right on {sequences.accuracy(hand, data):.0%} of prompts")

# %% [markdown]
# Because we know this model's circuit, we can test it the way lesson 04
# tests trained models: with a **hook** that changes an activation during
# the forward pass. `hook_z` is each head's output before `W_O`, `[batch,
# pos, n_heads, d_head]`; the hook below sets the mover's to zero, and
# `run_with_hooks` runs the model with it.


# %%
def silence_mover(z, hook):
    z = z.clone()
    z[:, :, 0] = 0.0  # head 0 of this layer
    return z


for task, data in prompts.items():
    with torch.no_grad():
        silenced = hand.run_with_hooks(
            data.tokens, fwd_hooks=[(hook_name("z", 0), silence_mover)]
        )
    right = (silenced[:, -1].argmax(-1) == data.answers).float().mean()
    print(f"{task:<13} without the mover: top-1 right on {right:.0%} of prompts")

# %% [markdown]
# Without the mover, the successor head has nothing to read, and the model
# never answers right. Lesson 04 starts from this model: every method it
# teaches (the logit lens, attention patterns, activation patching,
# ablation, circuit discovery, OV successor scores) runs on it first, where
# the answer is known, and then on a trained model where nobody planted
# anything.
#
# One more part, which lesson 04's trained model (toy-seq) has and ours do
# not: **LayerNorm**. Before a block's attention reads the stream, it
# rescales each position's vector: subtract its mean over the `d_model`
# coordinates, divide by its standard deviation, multiply by a learned
# weight and add a learned bias. With the division fixed, it is an affine
# map (a linear map plus the bias; with the bias folded in as one more
# coordinate, as in section 2, a linear one). `tp.layer_norm` is those
# steps, and it matches toy-seq's own:

# %%
from neuralcircuits.science import toy_seq

toy = toy_seq.load()
toy_prompt = sequences.make_dataset(toy, "numerals", "clean", "done", n=4, seed=0)
_, toy_cache = toy.run_with_cache(toy_prompt.tokens)
ln = toy.blocks[0].ln1
mine = tp.layer_norm(toy_cache[hook_name("resid_pre", 0)], ln.w, ln.b)
print(
    "largest difference from toy-seq's LayerNorm:",
    f"{(mine - toy_cache['blocks.0.ln1.hook_out']).abs().max():.1e}",
)

# %% [markdown]
# ## Summary
#
# * A transformer's **residual stream** is a sum: the token and position
#   embeddings, plus what every head adds; the unembedding reads the sum.
#   A bias is the weight of a coordinate that is always 1.
# * A head is two circuits: the **QK circuit** `W_Q W_K^T` decides where
#   each position looks, the **OV circuit** `W_V W_O` what it moves from
#   there (Elhage et al. 2021).
# * In a one-layer attention-only model, the **direct path** `W_E W_U`
#   holds bigram statistics; heads bring what the current token cannot
#   know. Our trained model grew a **successor head**: its QK circuit adds a
#   "member" score and a "recent" score, its OV circuit maps each member to
#   the next one.
# * Heads in different layers **compose**: an **induction head** reads, in
#   its keys, what a **previous-token head** wrote (K-composition), and
#   completes `... A B ... A` with `B` (Olsson et al. 2022). Composition
#   shows in the weights, against a baseline of random heads.
# * Patterns and composition scores diagnose a broken head; the same
#   symptom can have different causes.
# * The hand-built transformer of lesson 04 is a mover and a successor head
#   joined by V-composition, a circuit known by construction.
#
# ## Further exercises
#
# 1. What do heads 1, 2 and 3 of the trained model do? Draw their patterns
#    from the other kinds of query (`"was"`, `"."`) and read their OV
#    circuits. (Hint: the verb after `"was"` is the one the story has used
#    before.)
# 2. Give the induction head a preference for the *latest* earlier copy:
#    add a position part to its keys, as section 6's head 0 has, and run
#    exercise 7's sequence again.
# 3. Train the attention-only model with one head instead of four (about 20
#    seconds): `from neuralcircuits.science.attention_only import train`,
#    then `one_head = train.train_model(train.TrainConfig(n_heads=1))`. Does
#    a successor head still appear? What happens to the correlation of the
#    direct path with the bigrams?
# 4. Build a **duplicate-token head**: one that attends, from each
#    position, to earlier copies of its own token. Which broken head of
#    section 10 is almost one?
# 5. Compute the composition scores of the hand-built transformer's heads
#    (`hb.build()`, its `W_Q`, `W_K`, `W_V`, `W_O`): which pair composes, and
#    which way?
#
# ## Reading
#
# * Elhage, Nanda, Olsson et al., *A Mathematical Framework for Transformer
#   Circuits*, Transformer Circuits Thread (2021): the residual stream, the
#   direct path, QK and OV circuits, composition and its scores, induction
#   heads.
# * Olsson, Elhage, Nanda et al., *In-context Learning and Induction Heads*,
#   Transformer Circuits Thread (2022).
# * The notes *Reversing tiny transformers*: attention heads move
#   information, the direct path `T = W_U W_E`, next: induction heads.
# * Gould, Ong, Ogden, Conmy, *Successor Heads: Recurring, Interpretable
#   Attention Heads in the Wild* (arXiv 2312.09230, 2023).
# * Next: lesson 04, where every method first recovers the hand-built
#   transformer's circuit, and then finds the circuits of a trained model
#   that continues numerals, number words and months.
