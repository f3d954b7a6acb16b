"""Sequence-continuation prompts of Lan, Torr & Barez (2023), for any tokenizer.

The paper (arXiv 2311.04131, public code apartresearch/seqcont_circuits) asks
a model to continue a sequence hidden in a short story::

    "Van was done in 1. Hat was done in 2. Ring was done in 3. Desk was done
     in 4. Sun was done in"   ->  correct " 5", incorrect " 4"

Three tasks (numerals, number words, months) share three templates (verbs
``done`` and ``lost`` with common nouns, ``born`` with first names). Four
members start at 1..8 of 1..12; the fifth is the answer and the fourth,
repeated, is the incorrect answer used by the logit difference.

Three kinds of dataset, built row by row from one seed so that they align:

- ``clean``: the sequence as above.
- ``corrupted``: the last member repeated ("... in 3. Desk was done in 3. Sun
  was done in"); the activation-patching baseline.
- ``random``: random, non-sequential members ("... in 11. Hat was done in 1.
  Ring was done in 11. Desk was done in 3. ..."); the mean-ablation reference.

Corrupted and random rows keep the answers of the matching clean row, so the
metric measures how far a run is from the clean behaviour.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from neuralcircuits.science.members import MONTHS, N_VALUES, NUMBER_WORDS, NUMERALS

TASKS = ("numerals", "number_words", "months")

_MEMBERS = {"numerals": NUMERALS, "number_words": NUMBER_WORDS, "months": MONTHS}

# The paper's exact text, with the verb filled in.
_TEMPLATE = (
    "{{w0}} was {verb} in {{x1}}. {{w1}} was {verb} in {{x2}}. "
    "{{w2}} was {verb} in {{x3}}. {{w3}} was {verb} in {{x4}}. {{w4}} was {verb} in"
)
VERBS = ("done", "lost", "born")
TEMPLATES: dict[str, str] = {verb: _TEMPLATE.format(verb=verb) for verb in VERBS}

# src/generate_data/common_words.json of the paper's repository, capitalised.
NOUNS = [
    "Apple", "Ball", "Car", "Dog", "Egg", "Fish", "Gold", "Hat", "Ink", "Jar",
    "Kite", "Lamp", "Moon", "Nest", "Owl", "Pig", "Quilt", "Rat", "Sun", "Tree",
    "Umbrella", "Vase", "Wolf", "Yarn", "Zip", "Bird", "Cat", "Drum", "Frog",
    "Grape", "House", "Ice", "Juice", "Key", "Leaf", "Map", "Nut", "Orange",
    "Piano", "Queen", "Ring", "Star", "Train", "Van", "Whale", "Xylophone",
    "Yacht", "Zebra", "Ax", "Box", "Cow", "Desk", "Ear", "Fan", "Gate", "Hill",
    "Iron", "Joke", "King", "Lion", "Milk", "Nose", "Oil", "Pen", "Quiz", "Rose",
    "Shoe", "Tail", "Vine",
]  # fmt: skip

# The paper drew first names with Faker and kept single GPT-2 tokens; these are
# common first names that are single GPT-2 tokens with and without a space.
NAMES = [
    "Mary", "John", "Tom", "James", "Dan", "Martin", "Amy", "Lisa", "Anna",
    "Sarah", "Paul", "Mark", "David", "Michael", "Kevin", "Brian", "Jack",
    "Kate", "Laura", "Adam", "Eric", "Ryan", "Jason", "Steve", "Peter",
    "Alex", "Chris", "Matt", "Mike", "Jane", "Alice", "Bob", "Carl", "Frank",
    "George", "Henry", "Jessica", "Susan", "Joe", "Jim", "Bill", "Ben", "Sam",
    "Max", "Luke", "Anne", "Jennifer", "Daniel", "Andrew", "Simon", "Ted",
    "Tim", "Rachel", "Greg", "Tony", "Harry", "Richard", "Thomas", "Maria",
    "Kelly",
]  # fmt: skip

N_MEMBERS = 4  # members shown in a prompt; the fifth is the answer
N_STARTS = 8  # sequences start at member 1..8, so the answer is at most 12
KINDS = ("clean", "corrupted", "random")


def members(task: str) -> list[str]:
    """The 12 members of a task, in order ("1".."12", "one".."twelve", months)."""
    if task not in _MEMBERS:
        raise ValueError(f"Unknown task {task!r}; the tasks are {', '.join(TASKS)}.")
    return list(_MEMBERS[task])


def words_for(template: str) -> list[str]:
    """The nouns ("done", "lost") or first names ("born") a template draws from."""
    _check_template(template)
    return list(NAMES if template == "born" else NOUNS)


def make_prompt(words: Sequence[str], seq: Sequence[str], verb: str) -> str:
    """One prompt of any length: len(words) == len(seq) + 1 sentences, the last open.

    With four members this is exactly the paper's template for ``verb``.
    """
    if len(words) != len(seq) + 1:
        raise ValueError(
            f"need {len(seq) + 1} words for {len(seq)} members, got {len(words)}"
        )
    parts = [f"{w} was {verb} in {x}." for w, x in zip(words, seq, strict=False)]
    return " ".join([*parts, f"{words[-1]} was {verb} in"])


def get_tokenizer(tokenizer_or_model: Any) -> Any:
    """The HF tokenizer itself, or the ``.tokenizer`` of a model."""
    tok = getattr(tokenizer_or_model, "tokenizer", None)
    return tok if tok is not None else tokenizer_or_model


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def is_single_token(tokenizer: Any, word: str, leading_space: bool = True) -> bool:
    """True if ``word`` (with a leading space, as inside a prompt) is one token."""
    tok = get_tokenizer(tokenizer)
    return len(_ids(tok, (" " if leading_space else "") + word)) == 1


def single_token_words(tokenizer: Any, words: Sequence[str]) -> list[str]:
    """The words that are one token both at the start of a prompt and after a space.

    The paper's filter: with GPT-2, the first word of a prompt has no leading
    space while the others have one, so both forms must be single tokens for
    all prompts of a task to share one length.
    """
    tok = get_tokenizer(tokenizer)
    return [
        w
        for w in words
        if is_single_token(tok, w, True) and is_single_token(tok, w, False)
    ]


def member_token_ids(tokenizer: Any, task: str) -> torch.Tensor:
    """Token id of each member of ``task`` with its leading space  # [12] long.

    Raises ValueError naming the members that are not single tokens.
    """
    tok = get_tokenizer(tokenizer)
    bad = [m for m in members(task) if not is_single_token(tok, m)]
    if bad:
        raise ValueError(
            f"These {task} members are not single tokens (with a leading space) "
            f"for this tokenizer: {', '.join(bad)}."
        )
    return torch.tensor(
        [_ids(tok, " " + m)[0] for m in members(task)], dtype=torch.long
    )


@dataclass
class SequenceDataset:
    """Prompts of one task (and template, or "all"), tokenized, with answers."""

    task: str
    template: str  # "done" | "lost" | "born" | "all"
    kind: str  # "clean" | "corrupted" | "random"
    prompts: list[str]
    tokens: torch.Tensor  # [batch, pos] long, BOS first
    answers: torch.Tensor  # [batch] correct-answer token id (the fifth member)
    wrong_answers: torch.Tensor  # [batch] incorrect-answer token id (the fourth)
    starts: torch.Tensor  # [batch] 0-based index of the first member (0..7)
    member_ids: torch.Tensor  # [batch, 4] 0-based member index shown at each slot
    member_pos: torch.Tensor  # [batch, 4] token position of each shown member
    templates: list[str] = field(default_factory=list)  # per row
    words: list[tuple[str, ...]] = field(default_factory=list)  # per row, 5 words

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, index: Any) -> SequenceDataset:
        """The rows picked by a bool mask, index tensor, list of ints or slice."""
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
            index = index.nonzero().flatten()
        if isinstance(index, slice):
            rows = list(range(len(self)))[index]
        elif isinstance(index, int):
            rows = [index]
        else:
            rows = [int(i) for i in torch.as_tensor(index).flatten().tolist()]
        idx = torch.tensor(rows, dtype=torch.long)
        out: dict[str, Any] = {}  # field name -> its rows (tensor, list or str)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                out[f.name] = value[idx]
            elif isinstance(value, list):
                out[f.name] = [value[i] for i in rows] if value else []
            else:
                out[f.name] = value
        return SequenceDataset(**out)

    @property
    def answer_members(self) -> list[str]:
        """The correct answer of each row as text (the fifth member)."""
        ms = members(self.task)
        return [ms[int(s) + N_MEMBERS] for s in self.starts]


def _check_template(template: str) -> None:
    if template not in TEMPLATES:
        raise ValueError(
            f"Unknown template {template!r}; the templates are {', '.join(TEMPLATES)}."
        )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; the kinds are {', '.join(KINDS)}.")


def random_members(rng: random.Random) -> list[int]:
    """Four random member indices (0-based) that do not end in a step of one.

    The paper's reference set: r1, r2 any of 1..12; r3, r4 any with r4 - 1 != r3.
    """
    r1, r2 = rng.randrange(N_VALUES), rng.randrange(N_VALUES)
    while True:
        r3, r4 = rng.randrange(N_VALUES), rng.randrange(N_VALUES)
        if r4 - 1 != r3:
            return [r1, r2, r3, r4]


def _rows(template: str, n: int, seed: int, tokenizer: Any) -> tuple[list, list, list]:
    """Words, starts and random members for n rows, the same for every kind."""
    pool = words_for(template)
    if tokenizer is not None:
        pool = single_token_words(tokenizer, pool)
    if len(pool) < N_MEMBERS + 1:
        raise ValueError(
            f"only {len(pool)} single-token words for template {template!r}"
        )
    rng = random.Random(f"{seed}-{template}")
    rand_rng = random.Random(f"{seed}-{template}-random")
    words, starts, rand = [], [], []
    for i in range(n):
        starts.append(i % N_STARTS)  # balanced over the 8 starts
        words.append(tuple(rng.sample(pool, N_MEMBERS + 1)))
        rand.append(random_members(rand_rng))
    return words, starts, rand


def make_dataset(
    tokenizer: Any,
    task: str,
    kind: str = "clean",
    template: str = "done",
    n: int = 256,
    seed: int = 0,
) -> SequenceDataset:
    """Prompts of one task and kind, tokenized, with answer ids.

    ``tokenizer`` is a HF tokenizer or a model with ``.tokenizer``.
    ``template`` is "done", "lost", "born", or "all" (rows split evenly over the
    three, in blocks). The same ``seed`` gives the same words and starts row by
    row for every kind and task, so clean, corrupted and random datasets align
    and the three tasks can be filtered together. Every prompt has the same
    token length (raises ValueError if the tokenizer breaks that).
    """
    _check_kind(kind)
    tok = get_tokenizer(tokenizer)
    if template == "all":
        sizes = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
        parts = [
            make_dataset(tok, task, kind, t, size, seed)
            for t, size in zip(TEMPLATES, sizes, strict=True)
        ]
        out = concat(parts)
        out.template = "all"
        return out
    _check_template(template)
    ms = members(task)
    member_ids_all = member_token_ids(tok, task)
    words, starts, rand = _rows(template, n, seed, tok)

    prompts, seqs = [], []
    for w, s, r in zip(words, starts, rand, strict=True):
        if kind == "clean":
            seq = [s, s + 1, s + 2, s + 3]
        elif kind == "corrupted":
            seq = [s, s + 1, s + 2, s + 2]
        else:
            seq = r
        seqs.append(seq)
        prompts.append(make_prompt(w, [ms[j] for j in seq], template))

    bos = tok.bos_token_id
    if bos is None:
        raise ValueError("the tokenizer has no BOS token; the course prepends one")
    rows = [[bos, *_ids(tok, p)] for p in prompts]
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise ValueError(
            f"{task}/{template} prompts tokenize to different lengths {sorted(lengths)}; "
            "some word or member is not a single token"
        )
    tokens = torch.tensor(rows, dtype=torch.long)
    seq_t = torch.tensor(seqs, dtype=torch.long)  # [batch, 4]
    starts_t = torch.tensor(starts, dtype=torch.long)
    # Members sit at fixed offsets: 6 tokens per sentence, member 5th of each.
    member_pos = torch.tensor([[1 + 6 * k + 4 for k in range(N_MEMBERS)]] * len(rows))
    shown = tokens.gather(1, member_pos)
    if not torch.equal(shown, member_ids_all[seq_t]):
        raise ValueError(
            f"{task}/{template}: the member tokens are not where the template puts "
            "them; each word must be one token"
        )
    return SequenceDataset(
        task=task,
        template=template,
        kind=kind,
        prompts=prompts,
        tokens=tokens,
        answers=member_ids_all[starts_t + N_MEMBERS],
        wrong_answers=member_ids_all[starts_t + N_MEMBERS - 1],
        starts=starts_t,
        member_ids=seq_t,
        member_pos=member_pos,
        templates=[template] * len(rows),
        words=list(words),
    )


def make_datasets(
    tokenizer: Any,
    kind: str = "clean",
    template: str = "all",
    n: int = 256,
    seed: int = 0,
) -> dict[str, SequenceDataset]:
    """``make_dataset`` for every task, keyed by task."""
    return {
        task: make_dataset(tokenizer, task, kind, template, n, seed) for task in TASKS
    }


def concat(datasets: Sequence[SequenceDataset]) -> SequenceDataset:
    """Rows of several datasets (one task and kind, one token length) in order."""
    first = datasets[0]
    for d in datasets[1:]:
        if (d.task, d.kind) != (first.task, first.kind):
            raise ValueError("concat needs datasets of one task and kind")
        if d.tokens.shape[1] != first.tokens.shape[1]:
            raise ValueError("concat needs datasets of one token length")
    templates = {d.template for d in datasets}
    out: dict[str, Any] = {}  # field name -> the rows of all datasets
    for f in fields(SequenceDataset):
        values = [getattr(d, f.name) for d in datasets]
        if isinstance(values[0], torch.Tensor):
            out[f.name] = torch.cat(values)
        elif isinstance(values[0], list):
            out[f.name] = [x for v in values for x in v]
        else:
            out[f.name] = values[0]
    out["template"] = first.template if len(templates) == 1 else "all"
    return SequenceDataset(**out)


def logit_diff(
    logits: torch.Tensor, dataset: SequenceDataset, per_prompt: bool = False
) -> torch.Tensor:
    """logit(correct) - logit(incorrect) at the last position; mean unless per_prompt.

    ``logits`` is ``[batch, pos, d_vocab]`` (or ``[batch, d_vocab]`` already at
    the last position).
    """
    last = logits[:, -1, :] if logits.dim() == 3 else logits  # [batch, d_vocab]
    answers = dataset.answers.to(last.device)
    wrong = dataset.wrong_answers.to(last.device)
    diff = last.gather(1, answers[:, None])[:, 0] - last.gather(1, wrong[:, None])[:, 0]
    return diff if per_prompt else diff.mean()


def logit_diff_metric(
    dataset: SequenceDataset,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The metric ``logits -> mean logit difference on dataset``, for patching and ablation."""

    def metric(logits: torch.Tensor) -> torch.Tensor:
        return logit_diff(logits, dataset)

    return metric


@torch.no_grad()
def last_logits(
    model: Any,
    tokens: torch.Tensor,
    batch_size: int = 128,
    fwd_hooks: Sequence[tuple[str, Any]] = (),
) -> torch.Tensor:
    """The model's logits at the last position  # [batch, d_vocab].

    The forward pass stops after the last block and the unembedding runs on
    the last position only (with GPT-2's 50,257-token vocabulary the
    unembedding of every position costs about half as much as all the
    blocks); the
    final LayerNorm is per position, so the numbers are the model's own.
    Without ``fwd_hooks`` the prompts run in batches of ``batch_size``; with
    them, in one batch, since a hook may hold one tensor row per prompt.
    """
    from neuralcircuits.science.hooks import hook_name, run_until, store_hook

    stoppable = all(
        hasattr(model, a) for a in ("cfg", "run_with_hooks", "ln_final", "unembed")
    )
    step = tokens.shape[0] if fwd_hooks else batch_size
    outs = []
    for i in range(0, tokens.shape[0], step):
        if not stoppable:  # any callable from tokens to logits
            outs.append(model(tokens[i : i + step])[:, -1, :].float())
            continue
        last = hook_name("resid_post", model.cfg.n_layers - 1)
        store: dict[str, torch.Tensor] = {}
        run_until(
            model,
            tokens[i : i + step],
            [*fwd_hooks, (last, store_hook(store, "x", stop=True))],
        )
        x = store["x"][:, -1:]
        outs.append(model.unembed(model.ln_final(x))[:, 0].float())
    return torch.cat(outs)


def clean_last_logits(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``last_logits`` of the unedited model, computed once per weights and tokens  # [batch, d_vocab].

    The metric table, the attribution check, the scrambling test and the
    surgery's "before" all read the same clean runs; the run is the one the
    logit lens, the attention table, direct logit attribution and the
    neurons read too (``final_position.final_position_run``).
    """
    from neuralcircuits.science import disk_cache

    if all(hasattr(model, a) for a in ("cfg", "hook_dict", "ln_final", "unembed")):
        from neuralcircuits.science.final_position import final_position_run

        return final_position_run(model, tokens).logits
    return disk_cache.remembered(
        "last_logits", model, tokens, lambda: last_logits(model, tokens)
    )


@torch.no_grad()
def filter_correct(
    model: Any, dataset: SequenceDataset, batch_size: int = 128
) -> torch.Tensor:
    """The paper's filter: top-1 right and p(correct) > 2 p(incorrect)  # [batch] bool.

    To filter number words and months together, as the paper does, AND the
    masks of two datasets made with the same seed.
    """
    logits = last_logits(model, dataset.tokens, batch_size)  # [batch, d_vocab]
    probs = logits.softmax(-1)
    top1 = logits.argmax(-1) == dataset.answers
    p_right = probs.gather(1, dataset.answers[:, None])[:, 0]
    p_wrong = probs.gather(1, dataset.wrong_answers[:, None])[:, 0]
    return top1 & (p_right > 2 * p_wrong)


@torch.no_grad()
def accuracy(model: Any, dataset: SequenceDataset, batch_size: int = 128) -> float:
    """Fraction of prompts whose top-1 next token is the correct answer."""
    logits = last_logits(model, dataset.tokens, batch_size)
    return (logits.argmax(-1) == dataset.answers).float().mean().item()


@torch.no_grad()
def predicts_successor_of_last(
    model: Any, dataset: SequenceDataset, batch_size: int = 128
) -> float:
    """Fraction of prompts whose top-1 is the successor of the last shown member.

    On corrupted prompts ("... 3. ... 3. ... in") that is the fourth member of
    the clean sequence, the behaviour GPT-2 shows. Rows whose last member is the
    twelfth (no successor) are skipped.
    """
    ids = member_token_ids(get_tokenizer(model), dataset.task)
    last = dataset.member_ids[:, -1]
    keep = last < 11
    logits = last_logits(model, dataset.tokens[keep], batch_size)
    return (logits.argmax(-1) == ids[last[keep] + 1]).float().mean().item()
