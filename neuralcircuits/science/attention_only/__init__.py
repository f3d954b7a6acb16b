"""A one-layer, attention-only transformer trained on the course's stories: lesson 03 reads it whole.

Elhage et al. 2021 ("A Mathematical Framework for Transformer Circuits") read
a one-layer attention-only transformer as a sum of paths from the current
token to the next-token logits:

- the **direct path** ``W_E W_U`` (in the paper's column-vector notation
  ``T = W_U W_E``): what the current token alone says about the next one, a
  table of bigram statistics;
- one path per **head**: its QK circuit chooses where to look, its OV circuit
  what the token it looks at adds to the logits.

This module is that model, small enough to read every weight of.

**Corpus** (``corpus``): a stream of stories in lesson 04's format, every
member shown, each story opened by ``<bos>``::

    <bos> Van was done in 3. Hat was done in 4. Ring was done in 5.

A story has 3 to 6 members counting up from a random start, in one format
(numerals, number words or months); its verb (done, lost, born) and its
words (nouns; first names for "born") are drawn at random. Training reads
windows of ``N_CTX`` tokens at random offsets of the stream, so a position
says nothing about which kind of token sits there.

**Model**: a TransformerLens native model (``TransformerBridge.boot_native``),
1 layer of 4 heads (d_head 16), d_model 64, learned positions, n_ctx 32, no
LayerNorm, no MLP; toy-seq's word-level tokenizer (174 tokens). Every head
has biases (b_Q, b_K, b_V), the layer has b_O; the unembedding has none
(the bridge shows a b_U of zeros).

**Training** (``train.TrainConfig``; ``python -m
neuralcircuits.science.attention_only.train`` rewrites the shipped weights
bit for bit, one CPU thread, about 20 s of CPU): next-token cross-entropy at
every position, 600 AdamW steps of 64 windows, seed 4.

Why seed 4: every seed from 0 to 5 grows a head that, from the final "in"
of a story, puts most of its attention on the last member (88% to 99.8% on
lesson 03's story), but how cleanly its OV circuit maps each member to its
successor varies: 25, 28, 21, 22, 30 and 10 of the 33 members that have
one (seeds 0 to 5, the head of each that attends most to the last
member). Seed 4 is the cleanest, and its successor head is head 0.

The numbers lesson 03 states about the shipped weights are pinned in
``tests/test_lesson03_facts.py``. This module is the machinery: the corpus
and its bigram statistics, the model, the forward pass from the weights,
the direct path and each head's full QK and OV circuits.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from neuralcircuits.science import sequences
from neuralcircuits.science import transformer_parts as tp

HERE = Path(__file__).resolve().parent
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MODEL_NAME = "attention-only"

N_CTX = 32
CORPUS_TOKENS = 300_000
MIN_MEMBERS, MAX_MEMBERS = 3, 6

# The story lesson 03 reads the model on (lesson 04's format, one member left open).
STORY = (
    "Van was done in 3. Hat was done in 4. Ring was done in 5. "
    "Desk was done in 6. Sun was done in"
)

# The kinds of token a story is made of, in the order they come.
KINDS = ("<bos>", "word", "was", "verb", "in", "member", ".")


def model_config(d_vocab: int, n_heads: int = 4) -> dict:
    """The architecture (a TransformerBridgeConfig's fields)."""
    return dict(
        d_model=64,
        d_head=64 // n_heads,
        n_heads=n_heads,
        n_layers=1,
        n_ctx=N_CTX,
        d_mlp=4,  # unused: attn_only
        d_vocab=d_vocab,
        act_fn="relu",
        normalization_type=None,
        attn_only=True,
        positional_embedding_type="standard",
    )


def tokenizer() -> Any:
    """toy-seq's word-level tokenizer (174 tokens, ``<bos>`` first)."""
    from neuralcircuits.science import toy_seq

    return toy_seq.load_tokenizer()


# ---------------------------------------------------------------------------
# The corpus and its bigram statistics
# ---------------------------------------------------------------------------
def story(rng: random.Random, vocab: dict[str, int]) -> list[int]:
    """One story as token ids: ``<bos>`` and 3 to 6 sentences "word was verb in member ."."""
    verb = rng.choice(sequences.VERBS)
    task = rng.choice(sequences.TASKS)
    k = rng.randint(MIN_MEMBERS, MAX_MEMBERS)
    start = rng.randint(0, 12 - k)
    shown = sequences.members(task)[start : start + k]
    words = rng.sample(sequences.words_for(verb), k)
    out = [vocab["<bos>"]]
    for word, member in zip(words, shown, strict=True):
        out += [vocab[word], vocab["was"], vocab[verb], vocab["in"], vocab[member]]
        out.append(vocab["."])
    return out


def corpus(n_tokens: int = CORPUS_TOKENS, seed: int = 0) -> torch.Tensor:
    """The training stream: stories one after another, cut to n_tokens  # [n_tokens] long."""
    vocab = tokenizer().get_vocab()
    rng = random.Random(seed)
    stream: list[int] = []
    while len(stream) < n_tokens:
        stream += story(rng, vocab)
    return torch.tensor(stream[:n_tokens], dtype=torch.long)


def bigram_counts(stream: torch.Tensor, d_vocab: int) -> torch.Tensor:
    """How often token b follows token a in the stream  # [d_vocab (a), d_vocab (b)]."""
    counts = torch.zeros(d_vocab, d_vocab)
    ones = torch.ones(len(stream) - 1)
    counts.index_put_((stream[:-1], stream[1:]), ones, accumulate=True)
    return counts


def bigram_log_probs(stream: torch.Tensor, d_vocab: int) -> torch.Tensor:
    """The measured log p(next = b | current = a), -inf where b never follows a  # [d_vocab, d_vocab].

    Rows of tokens that never occur are all -inf.
    """
    counts = bigram_counts(stream, d_vocab)
    totals = counts.sum(1, keepdim=True)
    return (counts / totals.clamp(min=1)).log()


def bigram_loss(stream: torch.Tensor, d_vocab: int) -> float:
    """The cross-entropy of the best bigram model on the stream itself (nats per token)."""
    counts = bigram_counts(stream, d_vocab)
    logp = bigram_log_probs(stream, d_vocab)
    seen = counts > 0
    return float(-(counts[seen] * logp[seen]).sum() / counts.sum())


def token_kinds(tok: Any = None) -> list[str]:
    """The kind (one of KINDS, or "other") of every token id, in id order."""
    tok = tok if tok is not None else tokenizer()
    members = {m for t in sequences.TASKS for m in sequences.members(t)}
    words = set(sequences.NOUNS) | set(sequences.NAMES)
    kinds = []
    for word in tok.convert_ids_to_tokens(list(range(len(tok)))):
        if word in ("<bos>", "was", "in", "."):
            kinds.append(word)
        elif word in sequences.VERBS:
            kinds.append("verb")
        elif word in members:
            kinds.append("member")
        elif word in words:
            kinds.append("word")
        else:
            kinds.append("other")
    return kinds


def by_kind(table: torch.Tensor, kinds: list[str]) -> torch.Tensor:
    """The mean of a [token, token] table over each (row kind, column kind) block  # [len(KINDS), len(KINDS)]."""
    index = [[i for i, k in enumerate(kinds) if k == kind] for kind in KINDS]
    out = torch.zeros(len(KINDS), len(KINDS))
    for r, rows in enumerate(index):
        for c, cols in enumerate(index):
            out[r, c] = table[rows][:, cols].mean()
    return out


# ---------------------------------------------------------------------------
# The model: load, read its weights, run it from them
# ---------------------------------------------------------------------------
def read_config(directory: Path | str = HERE) -> dict:
    """The shipped config.json: the model, how it was trained, its loss curve."""
    return json.loads((Path(directory) / CONFIG_FILE).read_text())


def load(directory: Path | str = HERE) -> Any:
    """The trained one-layer attention-only model (a TransformerBridge) in eval mode, offline."""
    from neuralcircuits.science import toy_seq

    directory = Path(directory)
    cfg = read_config(directory)["model"]
    model = toy_seq.build_model(cfg, tokenizer(), seed=0)
    toy_seq.load_weights(model, directory / WEIGHTS_FILE, cfg)
    model.cfg.model_name = MODEL_NAME
    model.eval()
    return model


WEIGHT_NAMES = (
    "W_E",
    "W_pos",
    "W_Q",
    "b_Q",
    "W_K",
    "b_K",
    "W_V",
    "b_V",
    "W_O",
    "b_O",
    "W_U",
    "b_U",
)


@torch.no_grad()
def weights(model: Any) -> dict[str, torch.Tensor]:
    """Every weight of a one-layer model, the layer axis dropped (W_Q [n_heads, d_model, d_head] ...)."""
    out = {}
    for name in WEIGHT_NAMES:
        w = getattr(model, name).detach().clone().float()
        if name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"):
            w = w[0]  # the only layer
        out[name] = w
    return out


def with_one(x: torch.Tensor) -> torch.Tensor:
    """The vectors x with one more coordinate, always 1  # [..., d + 1]."""
    return torch.cat([x, torch.ones(*x.shape[:-1], 1, dtype=x.dtype)], -1)


def fold_bias(W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """W [d_in, d_out] with the bias b [d_out] as one more row  # [d_in + 1, d_out].

    ``with_one(x) @ fold_bias(W, b) == x @ W + b``: the bias is the weight of
    a coordinate that is always 1.
    """
    return torch.cat([W, b[None]], 0)


def head_weights(
    w: dict[str, torch.Tensor], head: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Head `head`'s (W_Q, W_K, W_V) with their biases folded in, and W_O: read x with ``with_one``."""
    return (
        fold_bias(w["W_Q"][head], w["b_Q"][head]),
        fold_bias(w["W_K"][head], w["b_K"][head]),
        fold_bias(w["W_V"][head], w["b_V"][head]),
        w["W_O"][head],
    )


def embed(w: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """The residual stream before the layer: token plus position embedding  # [batch, pos, d_model]."""
    return w["W_E"][tokens] + w["W_pos"][: tokens.shape[1]]


@torch.no_grad()
def forward(
    w: dict[str, torch.Tensor], tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model run from its weights: (logits [batch, pos, d_vocab], patterns [batch, head, q, k])."""
    x = embed(w, tokens)
    resid = x + w["b_O"]
    patterns = []
    for h in range(w["W_Q"].shape[0]):
        pattern, out = tp.attention_head(with_one(x), *head_weights(w, h))
        resid = resid + out
        patterns.append(pattern)
    return resid @ w["W_U"] + w["b_U"], torch.stack(patterns, 1)


def direct_path(w: dict[str, torch.Tensor]) -> torch.Tensor:
    """The direct path W_E W_U: the logit of next token b from current token a, no head  # [d_vocab, d_vocab]."""
    return w["W_E"] @ w["W_U"]


def full_ov(w: dict[str, torch.Tensor], head: int) -> torch.Tensor:
    """Head `head`'s full OV circuit W_E W_V W_O W_U: what attending to token a adds to the logit of b  # [d_vocab, d_vocab].

    Row a is the head's output when it puts all its attention on a token a,
    read by the unembedding (position and value bias left out: they add the
    same to every row).
    """
    return w["W_E"] @ w["W_V"][head] @ w["W_O"][head] @ w["W_U"]


def full_qk(w: dict[str, torch.Tensor], head: int) -> torch.Tensor:
    """Head `head`'s token-to-token QK circuit, biases folded in: score of query token a on key token b  # [d_vocab, d_vocab].

    ``(E_a W_Q + b_Q)(E_b W_K + b_K)^T / sqrt(d_head)``, the attention score
    before the softmax when the positions are left out.
    """
    E1 = with_one(w["W_E"])
    W_Q, W_K, _, _ = head_weights(w, head)
    return (E1 @ W_Q) @ (E1 @ W_K).T / W_Q.shape[1] ** 0.5


def qk_parts(
    w: dict[str, torch.Tensor], head: int, tokens: torch.Tensor, query: int = -1
) -> tuple[torch.Tensor, torch.Tensor]:
    """One query's attention scores over the keys, split into (what each key is, where it is)  # ([pos], [pos]).

    The score of key j is ``q . (E[t_j] W_K + b_K + P_j W_K) / sqrt(d_head)``
    with q the query's ``(E[t] + P) W_Q + b_Q``: the first part (token, and
    the key bias, the same for every key) plus the second (position). Keys
    after the query are included; the model masks them.
    """
    tokens = tokens.reshape(-1)
    n = len(tokens)
    query = query % n
    W_Q, _, _, _ = head_weights(w, head)
    q = with_one(w["W_E"][tokens[query]] + w["W_pos"][query]) @ W_Q
    scale = W_Q.shape[1] ** 0.5
    token_part = (w["W_E"][tokens] @ w["W_K"][head] + w["b_K"][head]) @ q / scale
    position_part = (w["W_pos"][:n] @ w["W_K"][head]) @ q / scale
    return token_part, position_part


# ---------------------------------------------------------------------------
# What the lesson measures
# ---------------------------------------------------------------------------
def observed(stream: torch.Tensor, d_vocab: int) -> torch.Tensor:
    """True where token b follows token a somewhere in the stream  # [d_vocab, d_vocab] bool."""
    return bigram_counts(stream, d_vocab) > 0


def bigram_agreement(
    table: torch.Tensor, stream: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """How well a [current, next] logit table reads as the stream's bigram statistics.

    Returns (correlation, x, y) over the bigrams the stream contains: x the
    measured log p(b | a), y the table's log-softmax over b.
    """
    d_vocab = table.shape[0]
    seen = observed(stream, d_vocab)
    x = bigram_log_probs(stream, d_vocab)[seen]
    y = table.log_softmax(-1)[seen]
    return float(torch.corrcoef(torch.stack([x, y]))[0, 1]), x, y


def top_next_is_seen(table: torch.Tensor, stream: torch.Tensor) -> float:
    """Share of the tokens in the stream whose top next token in `table` does follow them in the stream."""
    d_vocab = table.shape[0]
    seen = observed(stream, d_vocab)
    rows = seen.any(1).nonzero().flatten()
    top = table[rows].argmax(-1)
    return float(seen[rows, top].float().mean())


@torch.no_grad()
def losses_by_kind(
    w: dict[str, torch.Tensor], windows: torch.Tensor, stream: torch.Tensor
) -> dict[str, tuple[float, float, int]]:
    """Per kind of next token: (the best bigram model's loss, the model's loss, how many), on windows [batch, pos].

    The bigram model is the stream's own counts (``bigram_log_probs``).
    """
    d_vocab = w["W_E"].shape[0]
    logits, _ = forward(w, windows)
    nxt = windows[:, 1:]
    model_loss = -logits[:, :-1].log_softmax(-1).gather(-1, nxt[..., None])[..., 0]
    bigram = -bigram_log_probs(stream, d_vocab)[windows[:, :-1], nxt]
    kinds = token_kinds()
    kind_of = torch.tensor([KINDS.index(k) if k in KINDS else -1 for k in kinds])
    out = {}
    for i, kind in enumerate(KINDS):
        mask = kind_of[nxt] == i
        if mask.any():
            n = int(mask.sum())
            out[kind] = (float(bigram[mask].mean()), float(model_loss[mask].mean()), n)
    return out


def member_ids(tok: Any = None) -> torch.Tensor:
    """The 36 member tokens: numerals, number words, months, each 1 to 12  # [36] long."""
    tok = tok if tok is not None else tokenizer()
    return torch.cat([sequences.member_token_ids(tok, t) for t in sequences.TASKS])


def ov_on_members(
    w: dict[str, torch.Tensor], head: int, tok: Any = None
) -> torch.Tensor:
    """Head `head`'s full OV circuit on the members only: row = attended member, column = member logit  # [36, 36]."""
    ids = member_ids(tok)
    return full_ov(w, head)[ids][:, ids]


def successor_map(
    w: dict[str, torch.Tensor], head: int, tok: Any = None
) -> tuple[int, int]:
    """(members whose top member logit in the head's full OV circuit is their successor, members with one).

    Reads row a of ``full_ov`` over the 36 member tokens only: member i of a
    format counts when its largest entry is member i + 1 of the same format.
    """
    block = ov_on_members(w, head, tok)
    hits = total = 0
    for t in range(len(sequences.TASKS)):
        for i in range(11):
            row = 12 * t + i
            total += 1
            hits += int(block[row].argmax()) == row + 1
    return hits, total


def story_tokens(text: str, tok: Any = None) -> torch.Tensor:
    """A story's token ids with ``<bos>`` first  # [1, pos]."""
    tok = tok if tok is not None else tokenizer()
    return torch.tensor([tok(text)["input_ids"]], dtype=torch.long)
