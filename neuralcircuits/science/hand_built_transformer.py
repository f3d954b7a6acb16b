"""A transformer whose sequence-continuation circuit is known: every weight set by hand.

Lesson 02 builds ReLU networks by hand and then asks whether training finds
them; this module does the same for attention. ``build()`` returns a
``TransformerBridge`` (``boot_native``, so every hook and method of the course
runs on it) that continues the paper's three sequences (Lan, Torr & Barez
2023) on the paper's templates::

    "Van was done in 1. Hat was done in 2. Ring was done in 3. Desk was done
     in 4. Sun was done in"   ->  " 5"

No weight is trained. Because the circuit is known by construction, it is the
ground truth every method of lesson 04 must recover (tests/test_hand_built.py
checks that activation and attribution patching rank the planted heads first,
that iterative pruning returns exactly them, that the OV successor score finds
the successor head and no other, and that surgery on the mover moves the
answer as the construction predicts).

Shape: 2 layers x 2 heads (d_head 16), d_model 64, ReLU MLPs of 4 neurons,
no LayerNorm (``normalization_type=None``: every head reads the residual
stream itself), learned-position slot used as a position ramp, toy-seq's
word-level tokenizer (174 tokens).

The residual stream (``RESIDUAL``, 64 dimensions) is a labelled basis:

==============  ======  ========================================================
name            dims    written by / meaning
==============  ======  ========================================================
task_in         0-2     embedding of a member: its task (numerals, words, months)
index_in        3-14    embedding of a member: its index 1..12 (one-hot)
is_in           15      embedding of the token "in"
is_member       16      embedding of any member token
position        17      positional embedding: the position p itself (0, 1, 2, ...)
is_bos          18      embedding of ``<bos>``
is_word         19      embedding of a noun or first name
task_out        20-22   what the unembedding reads as "a member of task t"
index_out       23-34   what the unembedding reads as "member index j"
dot_out         35      what the unembedding reads as "."
was_out         36      what the unembedding reads as "was"
word_code       40-47   embedding of a noun or name: a fixed random 8-d code
spare           48-62   written by head 1.1 only
==============  ======  ========================================================

The planted circuit (``PLANTED_CIRCUIT``: heads 0.0 and 1.0):

- **Head 0.0, the mover** (``MOVER``). QK: from every "in" token, a score of
  40 for member tokens plus 1 per position, so the final "in" attends to the
  most recent member (99.75% of its attention on clean prompts; the member
  before gets e^-6 of it), and from every other token to ``<bos>`` (a bias
  in the query meets ``is_bos``, score 20). OV: copies ``task_in`` and
  ``index_in`` of the attended member into the same dimensions of the final
  position: after block 0 the final "in" holds the last member's identity.
- **Head 1.0, the successor head** (``SUCCESSOR``). QK: from every "in"
  token to the most recent "in" (score 40 per "in", plus 2 per position), so
  the final "in" attends to itself, where the mover left the last member;
  other tokens attend to ``<bos>``. OV: ``task_in[t] -> task_out[t]`` and
  ``index_in[i] -> index_out[i + 1]``: member i of task t becomes a vote
  for member i + 1 of task t (the twelfth member has no successor and
  votes only for its task). This is V-composition: head 1.0 reads what
  head 0.0 wrote (Elhage et al. 2021). Fed a member's embedding directly (its
  effective embedding, as the OV successor score does), its OV circuit maps
  every member to its successor.
- **The unembedding** reads member (t, j) as ``4 * task_out[t] + 10 *
  index_out[j]`` (so the logit difference between the successor and the
  last member is 10 times the mover's attention to the last member minus
  its attention to the member before, 10 x (0.9975 - 0.0025) = 9.95), "."
  as ``5 * dot_out`` and "was" as ``5 * was_out``.

Bystanders (present, active on their own inputs, but nothing the answer
depends on reads them; each is something a method must learn to ignore):

- **Head 0.1, a word mover**: from every "in" to the most recent noun or name
  (the subject of the sentence), copying its ``word_code``; it attends
  strongly, but clean and corrupted prompts share their words.
- **Head 1.1, a member averager**: from every "in" to all member tokens
  equally (like GPT-2's 7.11 attending to the recent members), copying their
  identity into ``spare``, which no later component reads.
- **MLP 0, "a member is followed by '.'"**: one neuron fires on
  ``is_member`` and writes ``dot_out``; silent at every "in".
- **MLP 1, "a noun is followed by 'was'"**: one neuron fires on ``is_word``
  and writes ``was_out``; silent at every "in".
- **The readout's small random part**: the unembedding also reads
  ``task_in``, ``index_in``, ``word_code`` and ``spare`` into the logits of
  the tokens that are *not* members, through a fixed random matrix of scale
  0.05 (seed 0). It never votes for a member, so it changes no answer and
  no logit difference; it only keeps the readout of a bystander's OV output
  from being a tie of zeros (a tie would make "is the successor in the top
  5?" depend on how ``topk`` breaks ties).

What the construction implies, and the tests check: on clean prompts of
every task and template the top-1 is the answer (100%) with a logit
difference of about 10; on corrupted prompts (last member repeated) it
answers the successor of the repeated member; on random-member prompts the
successor of the last member shown (December has none: the model then
spreads its vote over the months); mean-ablating head 0.0 or 1.0 leaves a
logit difference near 0, every bystander leaves it unchanged. On a story of
nouns with one member inside ("Sun was born in May."), the mover finds that
member and the model answers its successor, as it would in a sequence.
"""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science import sequences
from neuralcircuits.science.patching import Component

MODEL_NAME = "hand-built"

# The labelled basis of the residual stream.
RESIDUAL: dict[str, slice] = {
    "task_in": slice(0, 3),
    "index_in": slice(3, 15),
    "is_in": slice(15, 16),
    "is_member": slice(16, 17),
    "position": slice(17, 18),
    "is_bos": slice(18, 19),
    "is_word": slice(19, 20),
    "task_out": slice(20, 23),
    "index_out": slice(23, 35),
    "dot_out": slice(35, 36),
    "was_out": slice(36, 37),
    "word_code": slice(40, 48),
    "spare": slice(48, 63),
}

MOVER = Component("head", 0, 0)
SUCCESSOR = Component("head", 1, 0)
WORD_MOVER = Component("head", 0, 1)
MEMBER_AVERAGER = Component("head", 1, 1)
PLANTED_CIRCUIT: tuple[Component, ...] = (MOVER, SUCCESSOR)
BYSTANDERS: tuple[Component, ...] = (
    WORD_MOVER,
    MEMBER_AVERAGER,
    Component("mlp", 0),
    Component("mlp", 1),
)
ROLES: dict[str, str] = {
    "0.0": "mover: the final 'in' attends to the last member and copies its identity",
    "0.1": "bystander: attends to the sentence's noun or name, copies its code",
    "1.0": "successor head: reads the moved member at the final 'in', writes its successor",
    "1.1": "bystander: averages the members into dimensions nothing reads",
    "MLP0": "bystander: 'a member is followed by \".\"'",
    "MLP1": "bystander: 'a noun is followed by \"was\"'",
}

# Weights of the construction (see the module docstring).
TASK_VOTE = 4.0  # unembedding weight of task_out
INDEX_VOTE = 10.0  # unembedding weight of index_out
MEMBER_SCORE = 40.0  # mover: score of a member token
RECENCY = 1.0  # mover: score per position
IN_SCORE = 40.0  # successor head: score of an "in" token
IN_RECENCY = 2.0  # successor head: score per position
BOS_SCORE = 20.0  # both: the <bos> sink for every query that is not "in"
READOUT_NOISE = 0.05


def config(d_vocab: int) -> dict:
    """The architecture (a TransformerBridgeConfig's fields)."""
    return dict(
        d_model=64,
        d_head=16,
        n_heads=2,
        n_layers=2,
        n_ctx=64,
        d_mlp=4,
        d_vocab=d_vocab,
        act_fn="relu",
        normalization_type=None,
        attn_only=False,
        positional_embedding_type="standard",
    )


def _one(name: str, i: int = 0) -> int:
    return RESIDUAL[name].start + i


def hand_weights(tokenizer: Any) -> dict[str, torch.Tensor]:
    """Every weight of the model, as a state dict of TransformerLens' NativeModel."""
    vocab = tokenizer.get_vocab()
    V = len(tokenizer)
    cfg = config(V)
    d, dh, H, n_ctx = cfg["d_model"], cfg["d_head"], cfg["n_heads"], cfg["n_ctx"]
    scale = dh**0.5  # attention scores are divided by sqrt(d_head)
    g = torch.Generator().manual_seed(0)

    # Embedding: flags, member (task, index), word codes.
    E = torch.zeros(V, d)
    E[vocab["in"], _one("is_in")] = 1
    E[tokenizer.bos_token_id, _one("is_bos")] = 1
    for t, task in enumerate(sequences.TASKS):
        for i, m in enumerate(sequences.members(task)):
            row = vocab[m]
            E[row, _one("task_in", t)] = 1
            E[row, _one("index_in", i)] = 1
            E[row, _one("is_member")] = 1
    words = list(dict.fromkeys(sequences.NOUNS + sequences.NAMES))
    codes = torch.randn(len(words), 8, generator=g) / 8**0.5
    for w, code in zip(words, codes, strict=True):
        E[vocab[w], _one("is_word")] = 1
        E[vocab[w], RESIDUAL["word_code"]] = code
    P = torch.zeros(n_ctx, d)
    P[:, _one("position")] = torch.arange(n_ctx, dtype=torch.float)

    member_dims = list(range(RESIDUAL["task_in"].start, RESIDUAL["index_in"].stop))
    state: dict[str, torch.Tensor] = {"tok_embed.weight": E, "pos.weight": P}
    for L in range(2):
        Wq, Wk = torch.zeros(H * dh, d), torch.zeros(H * dh, d)
        bq = torch.zeros(H * dh)
        Wv, Wo = torch.zeros(H * dh, d), torch.zeros(d, H * dh)
        for h in range(H):
            o = h * dh  # this head's rows
            if (L, h) in ((0, 0), (1, 0), (1, 1)):
                # key 0: the token kind a query from "in" looks for; key 1: position;
                # key 2: <bos>, which every other query looks for.
                target = "is_member" if (L, h) != (1, 0) else "is_in"
                score = MEMBER_SCORE if target == "is_member" else IN_SCORE
                per_pos = {(0, 0): RECENCY, (1, 0): IN_RECENCY, (1, 1): 0.0}[(L, h)]
                Wq[o + 0, _one("is_in")] = score * scale
                Wq[o + 1, _one("is_in")] = per_pos * scale
                Wk[o + 0, _one(target)] = 1
                Wk[o + 1, _one("position")] = 1
            else:  # head 0.1: the most recent noun or name
                Wq[o + 0, _one("is_in")] = MEMBER_SCORE * scale
                Wq[o + 1, _one("is_in")] = RECENCY * scale
                Wk[o + 0, _one("is_word")] = 1
                Wk[o + 1, _one("position")] = 1
            bq[o + 2] = BOS_SCORE * scale
            Wk[o + 2, _one("is_bos")] = 1
            if (L, h) == (0, 1):  # copy the word code
                for j in range(8):
                    Wv[o + j, _one("word_code", j)] = 1
                    Wo[_one("word_code", j), o + j] = 1
            else:  # read the member's task and index (15 dims of the value)
                for j, dim in enumerate(member_dims):
                    Wv[o + j, dim] = 1
                if (L, h) == (0, 0):  # copy them back into the same dims
                    for j, dim in enumerate(member_dims):
                        Wo[dim, o + j] = 1
                elif (L, h) == (1, 1):  # copy them into spare
                    for j in range(len(member_dims)):
                        Wo[RESIDUAL["spare"].start + j, o + j] = 1
                else:  # the successor map
                    for t in range(3):
                        Wo[_one("task_out", t), o + t] = 1
                    for i in range(11):
                        Wo[_one("index_out", i + 1), o + 3 + i] = 1
        state[f"layers.{L}.attn.q.weight"] = Wq
        state[f"layers.{L}.attn.q.bias"] = bq
        state[f"layers.{L}.attn.k.weight"] = Wk
        state[f"layers.{L}.attn.k.bias"] = torch.zeros(H * dh)
        state[f"layers.{L}.attn.v.weight"] = Wv
        state[f"layers.{L}.attn.v.bias"] = torch.zeros(H * dh)
        state[f"layers.{L}.attn.o.weight"] = Wo
        state[f"layers.{L}.attn.o.bias"] = torch.zeros(d)
        # MLP L: one neuron, member -> "." (L = 0) or word -> "was" (L = 1)
        W_in, W_out = torch.zeros(cfg["d_mlp"], d), torch.zeros(d, cfg["d_mlp"])
        W_in[0, _one("is_member" if L == 0 else "is_word")] = 1
        W_out[_one("dot_out" if L == 0 else "was_out"), 0] = 1
        state[f"layers.{L}.mlp.fc_in.weight"] = W_in
        state[f"layers.{L}.mlp.fc_in.bias"] = torch.zeros(cfg["d_mlp"])
        state[f"layers.{L}.mlp.fc_out.weight"] = W_out
        state[f"layers.{L}.mlp.fc_out.bias"] = torch.zeros(d)

    # Unembedding [V, d]: the planted votes, plus the small random readout.
    U = torch.zeros(V, d)
    for t, task in enumerate(sequences.TASKS):
        for j, m in enumerate(sequences.members(task)):
            U[vocab[m], _one("task_out", t)] = TASK_VOTE
            U[vocab[m], _one("index_out", j)] = INDEX_VOTE
    U[vocab["."], _one("dot_out")] = 5
    U[vocab["was"], _one("was_out")] = 5
    member_rows = torch.zeros(V, dtype=torch.bool)
    for task in sequences.TASKS:
        member_rows[sequences.member_token_ids(tokenizer, task)] = True
    for name in ("task_in", "index_in", "word_code", "spare"):
        s = RESIDUAL[name]
        noise = READOUT_NOISE * torch.randn(V, s.stop - s.start, generator=g)
        U[:, s] = noise * ~member_rows[:, None]  # never a vote for a member
    state["head.weight"] = U
    return state


def build(tokenizer: Any = None) -> Any:
    """The hand-built transformer: a boot_native TransformerBridge in eval mode.

    ``tokenizer`` defaults to toy-seq's word-level tokenizer (the model reads
    the same vocabulary). Builds in about a second once TransformerLens is
    imported; the weights are the same on every call.
    """
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    from neuralcircuits.science import toy_seq

    if tokenizer is None:
        tokenizer = toy_seq.load_tokenizer()
    cfg = config(len(tokenizer))
    model = TransformerBridge.boot_native(  # type: ignore[attr-defined]  # TL attaches boot_native with setattr
        TransformerBridgeConfig(**cfg, seed=0),
        tokenizer=tokenizer,
        model_name=MODEL_NAME,
    )
    toy_seq._load_state(model, hand_weights(tokenizer), cfg)
    model.eval()
    return model


def expected_answer(tokenizer: Any, prompt_tokens: torch.Tensor) -> torch.Tensor:
    """What the construction predicts for each row of ``prompt_tokens`` [batch, pos]  # [batch].

    The successor (same task) of the last member token in the prompt, or -1
    where there is none (no member, or the twelfth member).
    """
    ids = {t: sequences.member_token_ids(tokenizer, t) for t in sequences.TASKS}
    lookup = {}
    for task_ids in ids.values():
        for i, tok in enumerate(task_ids.tolist()):
            lookup[tok] = int(task_ids[i + 1]) if i + 1 < len(task_ids) else -1
    out = []
    for row in prompt_tokens.tolist():
        last = [tok for tok in row if tok in lookup]
        out.append(lookup[last[-1]] if last else -1)
    return torch.tensor(out, dtype=torch.long)
