"""Latent-space arithmetic on a small embedding model that learned to count.

The vocabulary holds the values 1-12 in three formats: numerals ("5"), number
words ("five") and months ("May"). A token's embedding (a vector of d_embed
numbers) feeds two linear readouts that predict the *next* token of a count:
its value (one more, 12 wraps to 1) and its format (the same as the input's).
Both readouts are shared by all 36 tokens and training uses weight decay, so
the cheapest embedding that serves both is a value vector plus a format
vector; then E("five") - E("5") + E("7") lands on E("seven"). The control,
`factorised=False`, predicts the next token as one of 36 labels instead.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralcircuits.science.members import MONTHS, N_VALUES, NUMBER_WORDS, NUMERALS
from neuralcircuits.science.toy_classifier import single_thread

WORDS = NUMBER_WORDS
FORMATS: dict[str, list[str]] = {"numeral": NUMERALS, "word": WORDS, "month": MONTHS}
VOCAB: list[str] = [token for tokens in FORMATS.values() for token in tokens]


def token_value(token: str) -> int:
    """Return the value 1-12 a token stands for ("5", "five" and "May" all give 5)."""
    return VOCAB.index(token) % N_VALUES + 1


def token_format(token: str) -> str:
    """Return "numeral", "word" or "month"."""
    return list(FORMATS)[VOCAB.index(token) // N_VALUES]


def next_token(token: str) -> str:
    """Return the next token of a count in the same format ("12" -> "1", "May" -> "June")."""
    return FORMATS[token_format(token)][token_value(token) % N_VALUES]


def successor_ids() -> torch.Tensor:
    """Return, for each vocabulary id, the id of the next token of its count, [len(VOCAB)]."""
    return torch.tensor([VOCAB.index(next_token(token)) for token in VOCAB])


class CountingEmbedding(nn.Module):
    """Token -> embedding [d_embed] -> next value (12 logits) and next format (3 logits)."""

    def __init__(self, d_embed: int = 8, factorised: bool = True):
        super().__init__()
        self.factorised = factorised
        self.embed = nn.Embedding(len(VOCAB), d_embed)
        if factorised:
            self.value_readout = nn.Linear(d_embed, N_VALUES, bias=False)
            self.format_readout = nn.Linear(d_embed, len(FORMATS), bias=False)
        else:
            self.token_readout = nn.Linear(d_embed, len(VOCAB), bias=False)

    def loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return the cross-entropy of predicting each token's successor."""
        E = self.embed(tokens)  # [batch, d_embed]
        targets = successor_ids()[tokens]  # [batch]
        ce = nn.functional.cross_entropy
        if not self.factorised:
            return ce(self.token_readout(E), targets)
        return ce(self.value_readout(E), targets % N_VALUES) + ce(
            self.format_readout(E), targets // N_VALUES
        )


def train_counting_embeddings(
    d_embed: int = 8,
    steps: int = 1500,
    lr: float = 0.05,
    weight_decay: float = 0.5,
    factorised: bool = True,
    seed: int = 0,
) -> CountingEmbedding:
    """Return a CountingEmbedding trained (full batch, AdamW, seeded) to predict successors."""
    with single_thread():
        torch.manual_seed(seed)
        model = CountingEmbedding(d_embed, factorised)
        nn.init.normal_(model.embed.weight, std=0.1)
        for p in list(model.parameters())[1:]:
            nn.init.normal_(p, std=0.1)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        tokens = torch.arange(len(VOCAB))
        for _ in range(steps):
            loss = model.loss(tokens)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def successor_accuracy(model: CountingEmbedding) -> float:
    """Return the fraction of the 36 tokens whose next token the model predicts right."""
    tokens = torch.arange(len(VOCAB))
    E = model.embed(tokens)
    want = successor_ids()
    if not model.factorised:
        return float((model.token_readout(E).argmax(-1) == want).float().mean())
    value_ok = model.value_readout(E).argmax(-1) == want % N_VALUES
    format_ok = model.format_readout(E).argmax(-1) == want // N_VALUES
    return float((value_ok & format_ok).float().mean())


def embeddings(model: CountingEmbedding) -> torch.Tensor:
    """Return the embedding matrix E, [len(VOCAB), d_embed]."""
    return model.embed.weight.detach().clone()


def nearest(
    E: torch.Tensor,
    query: torch.Tensor,
    exclude: tuple[str, ...] = (),
    vocab: list[str] = VOCAB,
) -> str:
    """Return the token whose embedding has the highest cosine similarity with `query`."""
    cos = (E @ query) / (E.norm(dim=-1) * query.norm())  # [n_tokens]
    for token in exclude:
        cos[vocab.index(token)] = -float("inf")
    return vocab[int(cos.argmax())]


def analogy(
    E: torch.Tensor,
    a: str,
    b: str,
    c: str,
    vocab: list[str] = VOCAB,
    exclude_query: bool = True,
) -> str:
    """Answer "a is to b as c is to ?": the token nearest E[b] - E[a] + E[c].

    With `exclude_query` (Mikolov et al.'s convention, the default) a, b and c
    themselves are not allowed as answers; without it, any token is.
    """
    i = {token: k for k, token in enumerate(vocab)}
    query = E[i[b]] - E[i[a]] + E[i[c]]
    exclude = (a, b, c) if exclude_query else ()
    return nearest(E, query, exclude=exclude, vocab=vocab)


def analogy_accuracy(E: torch.Tensor, exclude_query: bool = True) -> dict[str, float]:
    """Return the fraction of right answers over every analogy between two formats.

    For formats F, G and values a != b, ask "F(b) is to G(b) as F(a) is to ?"
    and count it right when the answer is G(a). Keys are "numeral->word" etc.,
    and "all" for every query together (6 ordered pairs x 132 queries = 792).
    `exclude_query=True` (the usual convention) leaves the three query tokens
    out of the candidates, which flatters the score: the query vector is often
    nearest to one of them (Linzen 2016; Nissim et al. 2020). Report both.
    """
    scores: dict[str, float] = {}
    right_total = 0
    count_total = 0
    for f, F in FORMATS.items():
        for g, G in FORMATS.items():
            if f == g:
                continue
            right = sum(
                analogy(E, F[b], G[b], F[a], exclude_query=exclude_query) == G[a]
                for a in range(N_VALUES)
                for b in range(N_VALUES)
                if a != b
            )
            count = N_VALUES * (N_VALUES - 1)
            scores[f"{f}->{g}"] = right / count
            right_total += right
            count_total += count
    scores["all"] = right_total / count_total
    return scores


def pca_2d(E: torch.Tensor) -> torch.Tensor:
    """Return E projected on its two principal directions, [n_tokens, 2]."""
    centred = E - E.mean(0)
    _, _, V = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ V[:2].T
    # Fix each axis's sign so pictures repeat: the first token ("1") on the positive side.
    return coords * torch.where(coords[0] < 0, -1.0, 1.0)


def analogy_plane(E: torch.Tensor, f: str = "numeral", g: str = "word") -> torch.Tensor:
    """Return 2-D coordinates: x along the mean E[g] - E[f] direction, y the main value direction."""
    i = {token: k for k, token in enumerate(VOCAB)}
    diffs = torch.stack(
        [E[i[G]] - E[i[F]] for F, G in zip(FORMATS[f], FORMATS[g], strict=True)]
    )
    u = diffs.mean(0)
    u = u / u.norm()  # the format direction, [d_embed]
    centred = E - E.mean(0)
    # The value part: each value's mean embedding over the three formats, [12, d_embed].
    values = centred.reshape(len(FORMATS), N_VALUES, -1).mean(0)
    values = values - (values @ u)[:, None] * u  # without the format direction
    _, _, V = torch.linalg.svd(values, full_matrices=False)
    v = V[0] * (1.0 if float(values[0] @ V[0]) >= 0 else -1.0)
    return torch.stack([centred @ u, centred @ v], -1)  # [n_tokens, 2]


def format_direction_spread(
    E: torch.Tensor, f: str = "numeral", g: str = "word"
) -> float:
    """Return the mean cosine between the 12 difference vectors E[g(v)] - E[f(v)]."""
    i = {token: k for k, token in enumerate(VOCAB)}
    diffs = torch.stack(
        [E[i[G]] - E[i[F]] for F, G in zip(FORMATS[f], FORMATS[g], strict=True)]
    )
    unit = diffs / diffs.norm(dim=-1, keepdim=True)
    cos = unit @ unit.T  # [12, 12]
    off = ~torch.eye(len(unit), dtype=torch.bool)
    return float(cos[off].mean())
