# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: neuralcircuits
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (Neural Circuits)
#     language: python
#     name: python3
#   neuralcircuits:
#     generated_sha256: cb1eb7689dce9c832e32144ffd7d320fdbe85b4fcd87639f8ee2a5e55ccbd095
# ---

# %% [markdown]
# # Lesson 01: the linear algebra of MLPs
#
# Why are neural networks written in linear algebra? This lesson follows the
# path of the video *"Why do Neural Networks use Linear Algebra?"*: a change
# of units, then a weighted sum, then a matrix, then basis vectors, and at the
# end arithmetic in a learned space. Along the way we meet the idea the rest
# of the course leans on: a **feature is a direction** in a hidden space, and
# a **neuron is one particular direction**, the one its basis vector points
# along. Elhage et al. (2022) call the neuron basis *privileged* when the
# network's computation singles it out; we will test that with a rotation.
#
# By the end you will be able to
# - read a neuron as a dot product and a layer as a linear map, a
#   matrix-vector product;
# - say when a matrix is a change of basis (square and invertible), and find
#   a vector's coordinates in a new basis;
# - explain, and show numerically, why ReLU makes the neuron basis privileged;
# - watch a small trained MLP fold the plane until a line separates two classes;
# - do latent-space arithmetic, E(five) − E(5) + E(7) ≈ E(seven), in an
#   embedding the lesson trains, and say why it works;
# - train the toy model of superposition of Elhage et al. (2022), watch it
#   store five features in two dimensions when they are sparse, and explain
#   why that makes single neurons hard to read.
#
# Sections: 1. units and dot products · 2. layers and matrices · 3. bases ·
# 4. neurons versus feature directions · 5. a trained MLP warps the plane ·
# 6. latent-space arithmetic · 7. superposition.

# %%
import torch

import neuralcircuits.teaching.linear_algebra.superposition as toy_pictures
import neuralcircuits.teaching.linear_algebra.widgets as pictures
from neuralcircuits.science import analogies, linear_maps, superposition, toy_classifier
from neuralcircuits.teaching.linear_algebra.checks import (
    check_analogy,
    check_coordinates_in_basis,
    check_leak,
    check_linear_layer,
    check_most_exciting_input,
    check_neuron_output,
    check_rotate_hidden,
)
from neuralcircuits.teaching.media import show_video

torch.manual_seed(0)
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown]
# The video for this lesson walks through the same story, scene by scene.

# %%
show_video("01_linear_algebra_of_mlps")

# %% [markdown]
# ## 1. From a change of units to a dot product
#
# Converting kilograms to pounds is one multiplication: `pounds = 2.2 * kg`.
# The number 2.2 is a *weight*: it says how much each unit of input is worth
# in the output. A price that depends on several quantities is a **weighted
# sum**: apples at 3 per kg plus pears at 4 per kg plus a fixed fee of 1 is
#
# $$\text{price} = 3\,x_1 + 4\,x_2 + 1 = w \cdot x + b .$$
#
# That is exactly what an artificial neuron computes before its nonlinearity:
# it multiplies each input by a weight, adds them up and adds a bias. The sum
# $w \cdot x = \sum_i w_i x_i$ is the **dot product** of the input with the
# neuron's weight vector.

# %%
w = torch.tensor([3.0, 4.0])  # price per kg of apples, of pears
x = torch.tensor([[2.0, 0.5], [1.0, 1.0], [0.0, 3.0]])  # three baskets, kg
print("prices:", linear_maps.neuron(x, w, b=1.0))

# %% [markdown]
# What does the dot product *measure*? Geometrically,
# $w \cdot x = \lVert w\rVert\,\lVert x\rVert \cos\theta$: the length of $x$'s
# shadow (projection) on the direction of $w$, times $\lVert w\rVert$. So a
# neuron asks "how far does this input reach along my direction?". Inputs at
# right angles to $w$ give 0; inputs pointing the opposite way give negative
# values. Dividing by both lengths leaves $\cos\theta$, the **cosine
# similarity**: 1 for the same direction, 0 for orthogonal, −1 for opposite.

# %%
direction = torch.tensor([1.0, 1.0])
for v in [
    torch.tensor([2.0, 2.0]),
    torch.tensor([1.0, -1.0]),
    torch.tensor([-3.0, -3.0]),
    torch.tensor([2.0, 0.0]),
]:
    cos = linear_maps.cosine_similarity(v, direction)
    shadow = linear_maps.projection_length(v, direction)
    print(f"v = {v.tolist()}:  cos = {cos:+.3f},  projection = {shadow:+.3f}")

# %% [markdown]
# ### Exercise 1: a neuron is a dot product
# Difficulty: ●○○ · Importance: ●●● · about 5 minutes
#
# Write `neuron_output(x, w, b)`: for a batch of inputs `x` of shape
# `[batch, d_in]`, a weight vector `w` of shape `[d_in]` and a bias `b` (a
# number), return the pre-activation `w·x + b` of every input, shape `[batch]`.
#
# <details><summary>Hint</summary>
#
# Multiply element by element and sum over the input dimension, or use the
# matrix product `x @ w`, which does both at once for every row.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# `x @ w` takes the dot product of each row of `x` with `w`; adding `b` shifts
# every result by the bias. The check also catches the classic slips:
# forgetting to sum (shape `[batch, d_in]`) and forgetting the bias.
# </details>


# %% tags=["exercise"]
def neuron_output(x: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    """Return w·x + b for every row of x, shape [batch]."""
    raise NotImplementedError("Exercise: write `neuron_output` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_neuron_output(neuron_output)

# %% [markdown]
# **Summary of section 1.** Multiplying by a weight changes units; adding
# weighted inputs is a dot product with a weight vector; the dot product
# measures how far an input reaches along that vector (its projection), and
# after normalising, how aligned the two are (cosine similarity).
#
# ## 2. A layer is a matrix
#
# A layer is many neurons reading the same input. Stack their weight vectors
# as the rows of a matrix $W$ of shape `[d_out, d_in]`, and the layer's
# output is the matrix-vector product $W x + b$: row $k$ of $W$ dotted with
# $x$ gives neuron $k$. For a batch of inputs stored as rows, that is
# `x @ W.T + b`, exactly what `torch.nn.Linear` computes (it stores `weight`
# with shape `[out_features, in_features]`).
#
# ### Exercise 2: a layer with one matrix product
# Difficulty: ●○○ · Importance: ●●● · about 5 minutes
#
# Write `linear_layer(x, W, b)` with `x: [batch, d_in]`, `W: [d_out, d_in]`,
# `b: [d_out]`, returning `[batch, d_out]`. The check compares it with a
# `torch.nn.Linear` holding the same weights.
#
# <details><summary>Hint</summary>
#
# Each input row must be dotted with each row of `W`. `x @ W` fails (the
# inner sizes do not match); transpose `W`.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# `x @ W.T` has entry `[i, k] = x[i] · W[k]`, neuron `k` on input `i`; the
# bias `b` broadcasts over the batch.
# </details>


# %% tags=["exercise"]
def linear_layer(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return x @ W.T + b, shape [batch, d_out]."""
    raise NotImplementedError("Exercise: write `linear_layer` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_linear_layer(linear_layer)

# %% [markdown]
# The library's `linear_maps.layer` is the same computation. Here it is next
# to `nn.Linear`, on random weights:

# %%
W1, b1 = torch.randn(4, 3), torch.randn(4)  # layer 1: 3 -> 4
W2, b2 = torch.randn(2, 4), torch.randn(2)  # layer 2: 4 -> 2
x = torch.randn(5, 3)  # [batch, d_in]
ours = linear_maps.layer(x, W1, b1)
torchs = linear_maps.as_nn_linear(W1, b1)(x).detach()
print("largest difference from nn.Linear:", float((ours - torchs).abs().max()))

# %% [markdown]
# **Why a network needs a nonlinearity.** Two linear layers in a row are one
# linear layer: $W_2(W_1 x + b_1) + b_2 = (W_2 W_1)\,x + (W_2 b_1 + b_2)$.
# However many you stack, the network can only draw straight lines. The cell
# below collapses the two layers into one and compares.

# %%
W, b = linear_maps.collapse_linear_layers(W1, b1, W2, b2)
two_layers = linear_maps.layer(linear_maps.layer(x, W1, b1), W2, b2)
one_layer = linear_maps.layer(x, W, b)
print("W has shape", tuple(W.shape))
print("two layers vs one:", float((two_layers - one_layer).abs().max()))

# %% [markdown]
# The difference is float rounding. Putting a ReLU between the layers breaks
# this collapse, and that is where every interesting thing a network does
# comes from.
#
# **Summary of section 2.** A layer is a matrix-vector product, one row per
# neuron; `x @ W.T + b` is `nn.Linear`. Linear layers compose into a single
# linear layer, so depth is only useful with a nonlinearity in between.
#
# ## 3. A matrix is a linear map; sometimes a change of basis
#
# Read $W x$ by columns instead of rows: $W x = x_1 W_{:,1} + x_2 W_{:,2} +
# \dots$. The input's coordinates say *how much of each column* to add. The
# columns are where the **basis vectors** $e_1 = (1, 0)$ and $e_2 = (0, 1)$
# land, and the whole grid of the plane follows them: lines stay straight,
# parallel and evenly spaced. That is what makes $W$ a **linear map**. Move
# the sliders (a rotation, two scalings and a shear) and watch the grid and
# the two basis vectors.
#
# A linear map is a **change of basis** only when it is square and
# invertible: then its columns are a new basis of the same space and nothing
# is lost. Set a scale to 0 and the plane collapses onto a line: still a
# linear map, no longer a change of basis. A layer that is not square is not
# a change of basis either: the first layer of section 5's classifier maps
# the 2-D plane into a 6-D space, where its image is at most a plane.

# %%
pictures.matrix_explorer()

# %% [markdown]
# Going the other way: given a vector $v$ and a new basis (the columns of a
# matrix $B$), the **coordinates** of $v$ in that basis are the numbers $c$
# with $B c = v$, i.e. $c = B^{-1} v$. The same arrow has different
# coordinates in different bases.
#
# A hidden layer's activations (before the bias) are dot products of the
# input with the neurons' weight vectors, the rows of $W$. Dot products are
# not coordinates in general. They are the coordinates of $x$ in the basis
# of those rows only when the rows are **orthonormal**: the basis is then
# $B = W^\top$ (the rows as columns), $W^{-1} = W^\top$, and
# $c = B^{-1} x = W x$. For any
# square, invertible $W$, $W x$ is a coordinate vector, but in a different
# basis: the columns of $W^{-1}$, since $W^{-1}(W x) = x$. For a layer that is
# not square, like the 2 → 6 layer of section 5, the six activations are
# coordinates in no basis: six numbers describing a 2-D input.
#
# ### Exercise 3: coordinates in a new basis
# Difficulty: ●●○ · Importance: ●●○ · about 10 minutes
#
# Write `coordinates_in_basis(v, basis)`: `basis` is a `[d, d]` matrix whose
# **columns** are the basis vectors; return `c` (shape `[d]`) with
# `basis @ c == v`.
#
# <details><summary>Hint</summary>
#
# `torch.linalg.solve(A, v)` returns the `c` with `A @ c = v`. Dot products
# with the basis vectors (`basis.T @ v`) are *not* the coordinates unless the
# basis is orthonormal.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# `torch.linalg.solve(basis, v)` (or `torch.linalg.inv(basis) @ v`). For an
# orthonormal basis the inverse is the transpose, and then the coordinates
# are the dot products, which is why projections and coordinates are often
# confused.
# </details>


# %% tags=["exercise"]
def coordinates_in_basis(v: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Return c with basis @ c == v (the basis vectors are basis's columns)."""
    raise NotImplementedError("Exercise: write `coordinates_in_basis` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_coordinates_in_basis(coordinates_in_basis)

# %%
basis = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # columns (1, 0) and (1, 1)
v = torch.tensor([3.0, 2.0])
c = linear_maps.coordinates_in_basis(v, basis)
print("coordinates of", v.tolist(), "in the new basis:", c.tolist())
print("rebuilt from them:", (basis @ c).tolist())

# %% [markdown]
# **Summary of section 3.** A matrix's columns are the images of the basis
# vectors; the matrix moves the whole grid with them. Every layer is a linear
# map (plus a bias); it is a change of basis only when square and
# invertible. Coordinates in another basis solve $Bc = v$. A layer's
# activations are dot products with its neurons' weight vectors, which are
# coordinates only when those vectors are orthonormal.
#
# ## 4. Neurons versus feature directions: the rotation test
#
# A **feature** (something the network represents, like "this is a number
# word") is a *direction* in the hidden space. A **neuron** is one special
# direction: a basis vector of that space. Must features line up with
# neurons? Elhage et al. (2022, *Toy Models of Superposition*; also the
# *Softmax Linear Units* paper and the Anthropic note *Privileged Bases in the
# Transformer Residual Stream*) call a basis **privileged** when the
# network's computation treats its directions differently from other
# directions; only then is there a reason for features to align with neurons.
#
# The test: rotate the hidden space. Replace $W_{in}$ by $R\,W_{in}$ (and
# $b_{in}$ by $R\,b_{in}$) and $W_{out}$ by $W_{out}R^\top$, for a rotation
# $R$ ($R^\top R = I$). In a linear network the rotation cancels:
# $W_{out}R^\top R\,W_{in} = W_{out}W_{in}$, so the function is unchanged,
# and no direction of the hidden space is special. With a ReLU in between,
# $W_{out}R^\top\,\mathrm{ReLU}(R\,h) \ne W_{out}\,\mathrm{ReLU}(h)$ in
# general, because ReLU acts on each coordinate separately: it cares which
# directions are the coordinates.
#
# ### Exercise 4: rotate the hidden space
# Difficulty: ●●○ · Importance: ●●● · about 10 minutes
#
# Write `rotate_hidden(W_in, b_in, W_out, R)` returning the rotated
# `(W_in, b_in, W_out)`. Shapes: `W_in [d_hidden, d_in]`, `b_in [d_hidden]`,
# `W_out [d_out, d_hidden]`, `R [d_hidden, d_hidden]`.
#
# <details><summary>Hint</summary>
#
# The new hidden vector is $R$ times the old one, so the new $W_{in}$ and
# $b_{in}$ are multiplied by $R$ on the left. $W_{out}$ must first undo the
# rotation: the inverse of a rotation is its transpose.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# `return R @ W_in, R @ b_in, W_out @ R.T`. Forgetting the bias, or using
# `W_out @ R`, changes even a linear network's function; the check tells you
# which.
# </details>


# %% tags=["exercise"]
def rotate_hidden(
    W_in: torch.Tensor, b_in: torch.Tensor, W_out: torch.Tensor, R: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (R @ W_in, R @ b_in, W_out @ R.T)."""
    raise NotImplementedError("Exercise: write `rotate_hidden` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_rotate_hidden(rotate_hidden)

# %% [markdown]
# Now the test itself, on a real network: the small MLP we train in section
# 5 on a two-moons classification (six ReLU neurons, about a second of
# training, seeded). We take its first two layers, rotate their six-dimensional
# hidden space by a random rotation, and measure the largest change in the
# layers' output over the data: once with the ReLU, once with the ReLU
# removed. A permutation of the neurons (a rotation-like change of basis that
# only reorders the axes) is the control.

# %%
X, y = toy_classifier.two_moons()
model = toy_classifier.train_toy_mlp()
W_in, b_in = model.hidden.weight.detach(), model.hidden.bias.detach()
W_out, b_out = model.feature.weight.detach(), model.feature.bias.detach()
d_hidden = len(W_in)
R = linear_maps.random_rotation(d_hidden, seed=0)
P = torch.eye(d_hidden)[
    torch.randperm(d_hidden, generator=torch.Generator().manual_seed(0))
]
for name, Q in [("random rotation", R), ("permutation", P)]:
    for relu in (False, True):
        change = linear_maps.rotation_test(X, W_in, b_in, W_out, b_out, Q, relu)
        label = "with ReLU" if relu else "linear (no ReLU)"
        print(f"{name:16s} {label:17s} max output change {change:.2e}")

# %% [markdown]
# Read the table above. In the linear version the rotated network computes
# the same function up to float rounding (changes of order $10^{-5}$ or
# smaller, while the outputs themselves are several units). With the ReLU the
# random rotation changes the output by whole units, while the permutation
# changes it only by float rounding: ReLU's basis is privileged up to
# reordering (and positive rescaling) of the neurons. What does the damage do
# to the classifier?

# %%
rotated = toy_classifier.ToyMLP(d_hidden)
rotated.load_state_dict(model.state_dict())
new_W_in, new_b_in, new_W_out = linear_maps.rotate_hidden(W_in, b_in, W_out, R)
with torch.no_grad():
    rotated.hidden.weight.copy_(new_W_in)
    rotated.hidden.bias.copy_(new_b_in)
    rotated.feature.weight.copy_(new_W_out)
print(f"accuracy, trained network:       {toy_classifier.accuracy(model, X, y):.3f}")
print(f"accuracy, hidden space rotated:  {toy_classifier.accuracy(rotated, X, y):.3f}")

# %% [markdown]
# The picture behind the numbers: ReLU in the neuron basis maps the plane
# onto the positive quadrant (a point with a negative coordinate lands on
# the quadrant's edge, a point with two on its corner); the same ReLU
# applied in a rotated basis maps it onto a rotated quadrant, folding along
# different lines. The identity (a linear network) looks the same in
# every basis.

# %%
fig = pictures.plot_relu_bases(angle_deg=30.0)

# %% [markdown]
# **Summary of section 4.** Features are directions; neurons are the basis
# directions. A linear layer has no preferred basis: rotate the hidden space
# and nothing changes. An elementwise nonlinearity like ReLU makes the neuron
# basis privileged, so it is worth looking at individual neurons at all,
# though features need not align with them (superposition, Elhage et al.
# 2022, is the story of when they do not: section 7 trains their toy model).
#
# ## 5. A trained MLP warps the plane
#
# The classifier from section 4 is `2 → 6 (ReLU) → 2 → 1`: six ReLU neurons,
# then a 2-D *feature layer*, then a single readout whose sign is the class.
# Each hidden neuron is a dot product plus bias followed by ReLU, so it is
# active on a half-plane: on one side of the line $w \cdot x + b = 0$, with
# $w$ pointing into the active side. First move a neuron yourself: choose the
# direction and length of $w$ and the bias, and the active half-plane is
# shaded over the two moons.

# %%
pictures.neuron_explorer(X, y)

# %% [markdown]
# Here are the six half-planes the training found (the arrow is $w$, drawn
# from the boundary):

# %%
fig = pictures.plot_neuron_half_planes(model, X, y)

# %% [markdown]
# No single half-plane separates the moons. The next layer adds the six
# ReLU outputs with weights into a 2-D feature plane, so we can *draw* what
# the network does to the plane: take a grid on the input plane and send
# every point through. On the left the input; in the middle the same weights
# with the ReLU removed, which is one affine map (straight lines stay
# straight, the moons stay tangled); on the right the real network, where
# each ReLU creases the sheet along its line, and the folded sheet lets one
# straight line (the readout) separate the classes.

# %%
fig = pictures.plot_warp(model, X, y)
print(f"training accuracy: {toy_classifier.accuracy(model, X, y):.3f}")

# %% [markdown]
# **Summary of section 5.** Each ReLU neuron is a half-plane detector; a
# layer of them, followed by a linear map, bends the input plane along the
# neurons' lines (piecewise linear, continuous) so that the classes become
# linearly separable; the final layer is one straight cut.
#
# ## 6. Latent-space arithmetic
#
# Mikolov, Yih and Zweig (2013) found that word vectors trained to predict
# context answer analogies by vector arithmetic: vec("king") − vec("man") +
# vec("woman") is nearest to vec("queen"). The difference of two embeddings
# is a direction that means something ("female minus male"), and the same
# direction works for other pairs.
#
# We build the smallest version of this that we can train in a second. The
# vocabulary is the values 1 to 12 in three formats: numerals `"5"`, number
# words `"five"` and months `"May"`. The model embeds each token as a vector
# of `d_embed = 8` numbers and, from that vector alone, predicts the **next
# token of a count**, as two answers read out linearly: its *value* (one more,
# 12 wraps to 1) and its *format* (the same as the input's). This is the task
# of lesson 04 ("1 2 3 4" → "5", "one two three" → "four", "January February"
# → "March") cut down to one token.

# %%
counter = analogies.train_counting_embeddings(d_embed=8)
E = analogies.embeddings(counter)  # [36 tokens, d_embed]
print("embedding matrix:", tuple(E.shape))
print(f"next-token accuracy: {analogies.successor_accuracy(counter):.3f}")

# %% [markdown]
# **Why should arithmetic work here?** The value readout is one matrix shared
# by all 36 tokens; so is the format readout. The value readout needs the
# value of the token and nothing else; the format readout needs the format
# and nothing else. Training uses weight decay, so among all embeddings that
# make both readouts right it prefers short ones; the cheapest way to give
# each readout exactly what it needs is to spend one part of the vector on the
# value and another on the format, $E(v, f) \approx a_v + c_f$. Then
# $E(\text{five}) - E(5) \approx c_{word} - c_{numeral}$ is the *same*
# "numeral → word" arrow for every value, and
# $E(\text{five}) - E(5) + E(7) \approx a_7 + c_{word} \approx E(\text{seven})$.
# (This is also the modern explanation of word2vec's analogies: the
# statistics the vectors must reproduce decompose into independent parts,
# and so do the vectors; see Levy & Goldberg 2014 and Allen & Hospedales
# 2019.)
#
# ### Exercise 5: an analogy query
# Difficulty: ●●○ · Importance: ●●○ · about 10 minutes
#
# Write `analogy(E, vocab, a, b, c)`: "a is to b as c is to ?". Return the
# token (a `str` from `vocab`) whose embedding has the highest **cosine
# similarity** with `E[b] - E[a] + E[c]`, leaving out `a`, `b` and `c`
# themselves (Mikolov et al.'s convention). `E` has one row per token of
# `vocab`.
#
# <details><summary>Hint</summary>
#
# Build the query vector, compute `E @ query / (E.norm(dim=-1) * query.norm())`,
# set the entries of the three query tokens to `-inf`, take the `argmax`.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# Without excluding the query words the answer is very often `c` itself (the
# query is `c` plus a small offset). With a raw dot product instead of cosine,
# long vectors win whatever their direction.
# </details>


# %% tags=["exercise"]
def analogy(E: torch.Tensor, vocab: list[str], a: str, b: str, c: str) -> str:
    """Return the token nearest (cosine) to E[b] - E[a] + E[c], other than a, b, c."""
    raise NotImplementedError("Exercise: write `analogy` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_analogy(analogy)

# %% [markdown]
# A few queries with the library's `analogies.analogy` (same convention):

# %%
for a, b, c in [
    ("5", "five", "7"),
    ("five", "May", "seven"),
    ("1", "January", "12"),
    ("three", "3", "eleven"),
]:
    answer = analogies.analogy(E, a, b, c)
    print(f"{a:>6} : {b:<8} ::  {c:>6} : {answer}")

# %% [markdown]
# Single examples prove little. `analogy_accuracy` asks every question of the
# form "F(b) is to G(b) as F(a) is to ?" for every ordered pair of formats
# (F, G) and every pair of different values a, b: 6 × 132 = 792 queries.
#
# Mikolov et al.'s convention, which we followed, never lets a query word be
# the answer. That convention flatters the method: in word2vec embeddings the
# query vector's nearest neighbour is often one of the query words
# themselves, and excluding them hides those failures. Linzen (2016) shows
# how much of the offset method's accuracy depends on such choices, and
# Nissim, van Noord and van der Goot (2020) show that some much-quoted
# analogies only come out because the query words are excluded. So we report
# both: answers among the 33 tokens not in the query (chance 1/33 ≈ 3%), and
# among all 36 tokens (chance 1/36 ≈ 3%).

# %%
scores = analogies.analogy_accuracy(E)
strict = analogies.analogy_accuracy(E, exclude_query=False)
print(f"{'formats':16s} {'query words excluded':>21s} {'all 36 allowed':>15s}")
for pair in scores:
    print(f"{pair:16s} {scores[pair]:21.3f} {strict[pair]:15.3f}")

# %% [markdown]
# Here the two columns agree: every query is answered right even when the
# query words are allowed, so the convention is not what makes these
# analogies work. The variants below show that it can matter.

# %% [markdown]
# Does the explanation above hold up? Change one ingredient at a time and
# measure again: no weight decay; a single 36-way readout of the next token
# instead of the shared value and format readouts (the value is then no
# longer read the same way for every format); and embeddings too narrow to
# keep a value part and a format part apart.

# %%
variants = {
    "as above (d=8, weight decay)": {},
    "no weight decay": {"weight_decay": 0.0},
    "one 36-way readout": {"factorised": False},
    "d_embed = 4": {"d_embed": 4},
    "d_embed = 2": {"d_embed": 2},
}
print(f"{'variant':30s} next-token  analogies  (all 36 allowed)")
for name, kwargs in variants.items():
    m = analogies.train_counting_embeddings(**kwargs)
    acc = analogies.analogy_accuracy(analogies.embeddings(m))["all"]
    acc_all = analogies.analogy_accuracy(analogies.embeddings(m), False)["all"]
    print(
        f"{name:30s} {analogies.successor_accuracy(m):10.3f} {acc:10.3f}"
        f" {acc_all:10.3f}"
    )

# %% [markdown]
# Read the table from the printed numbers. Every variant that learns the task
# (next-token accuracy 1.000) *could* have embeddings without any
# parallelogram structure; the one-readout variant shows that learning the
# task is not enough: it predicts successors but its analogies are near
# chance, because nothing makes "5" and "five" share a value part. The shared
# readouts are what create the structure and weight decay sharpens it. With
# `d_embed = 4` the model still learns the task but has too little room to
# keep a value part and a format part apart, and with `d_embed = 2` it cannot
# even learn the task. In every variant but the first, allowing the query
# words as answers lowers the score: they sometimes win, as Linzen warned.
#
# The picture: each arrow goes from a numeral to the number word of the same
# value, drawn in the plane of the average numeral → word direction and the
# main value direction. The arrows point the same way and have similar
# lengths; they are not exactly parallel, but close enough for nearest-neighbour
# answers, as the accuracy table shows.

# %%
fig = pictures.plot_analogies(E, "numeral", "word")

# %% [markdown]
# **Summary of section 6.** When a model must read the same property (value)
# the same way from different kinds of token, and another property (format)
# independently, its embeddings become sums of a part per property; then
# differences of embeddings are reusable directions and analogies are vector
# arithmetic.
#
# Lesson 04 asks how much of this carries over to a transformer. Lan, Torr
# and Barez (2023) find that GPT-2 small continues numerals, number words
# and months with largely shared circuits (head 9.1 is in all three). Lesson
# 04's "One is 1" section compares the residual streams of "5", "five" and
# "May", tests whether a probe trained on one format reads another, and looks
# for a "+1" direction shared by the formats. Whether, and how strongly, the
# model it runs on has that structure is what those measurements say; this
# lesson's toy does not promise it.
#
# ## 7. Superposition: more features than dimensions
#
# Section 4 ended with a question: must features line up with neurons? A
# model often has more things to represent than it has dimensions. Elhage et
# al. (2022, *Toy Models of Superposition*) show with a model small enough to
# draw that it can still represent them, by **superposition**: storing
# features along directions that are not orthogonal, and paying for it with
# interference.
#
# Their toy model has five features $x_1, \dots, x_5$, each 0 with
# probability $S$ (the **sparsity**) and otherwise uniform in $[0, 1]$. It
# squeezes them into two dimensions and back out:
#
# $$h = W x \quad (W: 2 \times 5), \qquad x' = \mathrm{ReLU}(W^\top h + b),$$
#
# trained to reconstruct $x$, with feature $i$'s error weighted by its
# importance $0.9^i$ (feature 0 matters most). Column $W_i$ of $W$ is where
# feature $i$ goes in the 2-D hidden space. We train one model per sparsity,
# seven sparsities side by side, each from three random starts keeping the
# best (as Elhage et al. do): a few seconds.

# %%
toy_models = superposition.train_toy_models()
print(toy_pictures.feature_table(toy_models))

# %% [markdown]
# A feature counts as *stored* when its direction has length above 0.5;
# the gaps are the angles between neighbouring stored directions, going
# around the circle (so two features at right angles show 90° and 270°).
# Read the table:
#
# - **Dense features** ($S = 0$): the model stores only the two most
#   important features, at right angles, and drops the other three. With two
#   dimensions and every feature present at once, anything more would
#   interfere on every input.
# - **Middle sparsity** ($S$ from 0.5 to 0.8): four features, in two
#   antipodal pairs (gaps of 90°: each feature shares a line with the
#   opposite one). When $x_i$ is on, the opposite feature's output reads a
#   negative number, which its ReLU sets to 0.
# - **Sparse features** ($S \ge 0.9$): all five, at equal angles of about
#   72°: a **regular pentagon**. Two features are rarely on at once (with
#   probability $(1 - S)^2 = 1\%$ at $S = 0.9$), so the interference is
#   rarely paid for, and storing all five wins.

# %%
fig = toy_pictures.plot_superposition_runs(toy_models, (0.0, 0.8, 0.9))

# %% [markdown]
# Move the slider to switch between the trained models, one per sparsity.
# On the right is $W^\top W$: its diagonal is each feature's gain, the rest
# the **interference** $W_i \cdot W_j$, what feature $j$'s output reads when
# only feature $i$ is on. (The widget needs a live kernel; a static page
# shows its first drawing.)

# %%
toy_pictures.superposition_explorer(toy_models)

# %% [markdown]
# ### Exercise 6: how much does one feature leak into another?
# Difficulty: ●●○ · Importance: ●●○ · about 10 minutes
#
# Write `leak(W, b, i, j)`: feature $j$'s output $x'_j$ when feature $i$ is
# 1 and every other feature is 0. `W` is `[2, n_features]`, `b` is
# `[n_features]`; return one number.
#
# <details><summary>Hint</summary>
#
# With $x = e_i$, $h = W e_i$ is column $i$ of `W`. Then $x'_j =
# \mathrm{ReLU}(W_j \cdot h + b_j)$.
# </details>
#
# <details><summary>Solution explanation</summary>
#
# `torch.relu(W[:, i] @ W[:, j] + b[j])`: the interference $W_i \cdot W_j$,
# plus feature $j$'s own bias, through the ReLU. A negative bias is a
# threshold: interference smaller than $-b_j$ never shows in the output.
# </details>


# %% tags=["exercise"]
def leak(W: torch.Tensor, b: torch.Tensor, i: int, j: int) -> float:
    """Return feature j's output when only feature i is on, at 1."""
    raise NotImplementedError("Exercise: write `leak` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_leak(leak)

# %% [markdown]
# Now on the pentagon ($S = 0.9$). For each feature $i$ we print its row of
# $W^\top W$, the interference with every other feature (entry $i$ itself is
# the feature's own gain $\lVert W_i\rVert^2$), and what actually comes out
# (`superposition.output_when_alone` computes the whole output $x'$):

# %%
pentagon = toy_models[0.9]
print("bias b:", toy_pictures.pick(pentagon.b))
G = superposition.interference_matrix(pentagon)
for i in range(pentagon.n_features):
    out = superposition.output_when_alone(pentagon, i)
    print(f"feature {i} alone: interference {toy_pictures.pick(G[i])}")
    print(f"{'':17s}output       {toy_pictures.pick(out)}")

# %% [markdown]
# Each feature interferes positively with its two neighbours on the pentagon
# (the angle between them is about 72°, and $\cos 72° \approx 0.31$) and
# negatively with the two across. The ReLU removes the negative part, and
# the negative bias (about −0.2 for every feature) removes about half of the
# positive part: the two neighbours still show a small false signal. That is
# the price of superposition, and why it only pays when features are sparse.
#
# ### Superposition and the privileged basis
#
# This toy model's hidden layer has no ReLU, so, by section 4's test, its
# basis is not privileged: turn the pentagon by any angle ($W \to R W$) and
# every output stays the same, since $W^\top R^\top R W = W^\top W$. Which
# way the pentagon points is an accident of the seed.

# %%
x_test = superposition.sample_features(1000, 5, 0.9, torch.Generator().manual_seed(0))
turned = superposition.rotate_hidden(pentagon, 40.0)
change = (pentagon(x_test) - turned(x_test)).abs().max()
print(f"largest output change after turning the hidden plane 40°: {change:.1e}")
print("weights of each hidden dimension on the 5 features:")
for k, row in enumerate(superposition.neuron_weights(pentagon)):
    print(f"  dimension {k}: {toy_pictures.pick(row)}")
print(
    "features each dimension reads (|weight| > 0.25):",
    superposition.features_per_neuron(pentagon),
)

# %% [markdown]
# The change is float rounding. And each hidden dimension reads at least four
# of the five features: whichever way a regular pentagon points, at most one
# of its five directions is nearly perpendicular to a given axis. A ReLU on the hidden layer would privilege
# its basis, but it cannot give five features a neuron each with only two
# neurons: in Elhage et al.'s models with a ReLU hidden layer, features in
# superposition make some neurons **polysemantic**, responding to several
# unrelated features. So a privileged basis tells us that neurons are worth
# looking at, and superposition warns us that one neuron need not mean one
# thing.
#
# ### Exercise 7: what excites a neuron most?
# Difficulty: ●●● · Importance: ●●○ · about 20 minutes
#
# A common way to ask what a neuron "means" is to find the input that
# excites it most. Take one hidden dimension of the toy model (a "neuron"
# here), which computes $w \cdot x$ with $w$ its row of $W$. Write
# `most_exciting_input(w)`: return the input $x$ that maximises $w \cdot x$
# among inputs of length $\lVert x\rVert = 1$ whose features are all
# $\ge 0$ (a feature is an intensity; it cannot be negative). Then, below,
# read what it returns on the pentagon, and explain why the answer is not a
# feature.
#
# <details><summary>Hint 1</summary>
#
# Without the sign constraint, Cauchy–Schwarz gives the answer: $w /
# \lVert w\rVert$. Which of its entries break the constraint, and what can a
# negatively weighted feature contribute at best?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Split $w$ into its positive part $w^+ = \mathrm{ReLU}(w)$ and the rest. For
# $x \ge 0$, $w \cdot x \le w^+ \cdot x \le \lVert w^+\rVert$. When is that
# bound reached? And what if no weight is positive at all?
# </details>
#
# <details><summary>Solution explanation</summary>
#
# For $x \ge 0$, negative weights can only lower $w \cdot x$, so $w \cdot x
# \le w^+ \cdot x \le \lVert w^+\rVert\,\lVert x\rVert$ (Cauchy–Schwarz), with
# equality for $x = w^+ / \lVert w^+\rVert$. If no weight is positive, every
# allowed $x$ gives $w \cdot x \le 0$, and the best is to put all of $x$ on
# the least negative feature. The common slips: $w/\lVert w\rVert$ (negative
# intensities), the single feature with the largest weight (a blend reaches
# further), $|w|$ (features the neuron reads negatively lower the score), and
# the NaN of $0/0$ when no weight is positive.
# </details>


# %% tags=["exercise"]
def most_exciting_input(w: torch.Tensor) -> torch.Tensor:
    """Return the x >= 0 with |x| = 1 that maximises w · x."""
    raise NotImplementedError("Exercise: write `most_exciting_input` here, then run the check below.")


# %% tags=["check", "raises-exception"]
check_most_exciting_input(most_exciting_input)

# %% [markdown]
# With the library's version, on the pentagon's two hidden dimensions:

# %%
for k, w in enumerate(superposition.neuron_weights(pentagon)):
    x_best = superposition.most_exciting_input(w)
    print(
        f"dimension {k}: most exciting input {toy_pictures.pick(x_best)}, "
        f"w · x = {float(w @ x_best):.2f}"
    )

# %% [markdown]
# Each answer is a **blend** of two or more features, not one of them. It
# is the direction the neuron's weights point (cut to the allowed
# intensities), and in superposition no stored feature points that way: the
# features sit at the corners of the pentagon, and each neuron reads several
# of them at once. An input that would excite the neuron "most" may never
# occur in the data (here two features on together, which at $S = 0.9$
# happens on about 1% of inputs), and it tells us what the neuron's weights
# are, not which feature the neuron stands for. This is why lessons 03 and 04
# do not read a transformer's parts one coordinate at a time: they read heads
# through whole QK and OV circuits, and lesson 04 describes an MLP neuron by
# how its activation varies across tasks and sequence members and what it
# writes to the output, rather than by the input that excites it most.
#
# **Summary of section 7.** With sparse features a model stores more
# features than it has dimensions: two at $S = 0$, four in antipodal pairs at
# middle sparsity, a regular pentagon of five at $S \ge 0.9$. The price is
# interference $W_i \cdot W_j$, which the negative bias and the ReLU mostly
# hide. In superposition a neuron reads several features, and the input that
# excites it most is a blend.
#
# ## Summary
#
# - A neuron is a dot product with its weight vector plus a bias: it measures
#   how far the input reaches along one direction.
# - A layer is a matrix; `x @ W.T + b` is `nn.Linear`; linear layers collapse
#   into one, so networks need nonlinearities.
# - A matrix moves the basis vectors to its columns and the grid with them;
#   coordinates in a new basis solve $Bc = v$.
# - Features are directions; neurons are basis directions. Rotating a linear
#   hidden space changes nothing; with ReLU it changes the function, so ReLU
#   makes the neuron basis privileged (Elhage et al. 2022).
# - A small ReLU MLP folds the plane along its neurons' lines until one line
#   separates the classes.
# - Shared linear readouts make embeddings additive, and additive embeddings
#   answer analogies by arithmetic. Report analogy accuracy with and without
#   excluding the query words.
# - With sparse features, a model stores more features than it has
#   dimensions, at angles that interfere a little (superposition); then no
#   single neuron reads a single feature.
#
# ## Further exercises
#
# 1. Replace ReLU in `linear_maps.mlp` by a *rotation-equivariant*
#    nonlinearity, $h \mapsto h \cdot \sigma(\lVert h\rVert)$, and run the
#    rotation test again. Is the basis still privileged?
# 2. Train `toy_classifier.train_toy_mlp(d_hidden=...)` with 3, 4 and 8
#    neurons and with other seeds. How many neurons does the two-moons task
#    need? Are some neurons dead (never active)?
# 3. Add a fourth format (say Roman numerals "I" … "XII") to the counting
#    model and measure the analogy accuracy for the new pairs.
# 4. In `analogies`, add a readout that predicts the value of the *previous*
#    token too. Does the analogy accuracy with `d_embed = 4` change?
# 5. Train the toy model of superposition with six features
#    (`superposition.train_toy_models(n_features=6)`) and with equal
#    importances (`decay=1.0`). Which polygons appear, and at which sparsity?
# 6. Give the toy model's hidden layer a ReLU, $h = \mathrm{ReLU}(W x)$, and
#    run section 4's rotation test on it. Do the features now line up with
#    the two neurons, or stay in superposition?
#
# ## Further reading
#
# - The video *"Why do Neural Networks use Linear Algebra?"*, which this
#   lesson follows (units → dot product → matrices → basis vectors →
#   latent-space arithmetic).
# - Elhage et al., *Toy Models of Superposition* (Transformer Circuits Thread,
#   2022), on privileged bases and features that do not align with neurons;
#   Elhage et al., *Softmax Linear Units* (2022), and the Anthropic note
#   *Privileged Bases in the Transformer Residual Stream* (2023).
# - Linzen, *Issues in Evaluating Semantic Spaces Using Word Analogies*
#   (RepEval 2016); Nissim, van Noord, van der Goot, *Fair Is Better than
#   Sensational: Man Is to Doctor as Woman Is to Doctor* (Computational
#   Linguistics 2020).
# - Mikolov, Yih, Zweig, *Linguistic Regularities in Continuous Space Word
#   Representations* (NAACL 2013), and Mikolov et al., *Efficient Estimation of
#   Word Representations in Vector Space* (2013).
# - Levy & Goldberg, *Linguistic Regularities in Sparse and Explicit Word
#   Representations* (CoNLL 2014); Allen & Hospedales, *Analogies Explained*
#   (ICML 2019).
# - C. Olah, *Neural Networks, Manifolds, and Topology* (2014), for more
#   pictures of networks warping the plane.
# - Lan, Torr, Barez, *Towards Interpretable Sequence Continuation* (arXiv
#   2311.04131), the paper behind lesson 04.
