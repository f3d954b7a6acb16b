"""Lesson 03's checks of predictions about the trained model: the direct path's
top next tokens, and where the answer to the story is read from.
"""

from __future__ import annotations

from typing import Any

from neuralcircuits.teaching.checking import brief, call, check, fail, passed
from neuralcircuits.teaching.tiny_transformer.checks.forward import _trained

# ---------------------------------------------------------------------------
# Predictions about the trained model
# ---------------------------------------------------------------------------
DIRECT_PATH_TOKENS = ("Desk", "was", "done", "in", "5", ".")


def direct_path_top(token: str) -> tuple[str, str]:
    """The direct path's top next token after `token`, and its kind."""
    from neuralcircuits.science import attention_only as aot

    _, w = _trained()
    tok = aot.tokenizer()
    top = int(aot.direct_path(w)[tok.convert_tokens_to_ids(token)].argmax())
    return tok.convert_ids_to_tokens(top), aot.token_kinds(tok)[top]


@check
def check_direct_path_prediction(predict_direct_path) -> None:
    """Check the predicted kind of the direct path's top next token after each of six tokens."""
    from neuralcircuits.science import attention_only as aot

    got = call(predict_direct_path, name="predict_direct_path")
    if not isinstance(got, dict):
        fail(
            "Return a dict from each of the six tokens to a kind, e.g. "
            "{'Desk': 'was', ...}; got a " + type(got).__name__ + "."
        )
    missing = [t for t in DIRECT_PATH_TOKENS if t not in got]
    if missing:
        fail(f"Your dict has no prediction for {missing[0]!r}; predict all six tokens.")
    vocab = aot.tokenizer().get_vocab()
    kinds = aot.token_kinds()
    for token in DIRECT_PATH_TOKENS:
        said = got[token]
        if isinstance(said, str) and said not in aot.KINDS and said in vocab:
            fail(
                f"Your prediction for {token!r} is the token {said!r}; answer with its "
                f"kind, {kinds[vocab[said]]!r}, or another of the kinds "
                f"{', '.join(repr(k) for k in aot.KINDS)}."
            )
        if said not in aot.KINDS:
            fail(
                f"Your prediction for {token!r} is {got[token]!r}, not one of the kinds "
                f"{', '.join(repr(k) for k in aot.KINDS)}."
            )
    wrong = [t for t in DIRECT_PATH_TOKENS if got[t] != direct_path_top(t)[1]]
    if wrong:
        t = wrong[0]
        top, kind = direct_path_top(t)
        verb = "differs" if len(wrong) == 1 else "differ"
        fail(
            f"{len(wrong)} of your 6 predictions {verb} from the direct path; after "
            f"{t!r} you said {got[t]!r}, but its top next token is {top!r}, of kind "
            f"{kind!r}."
        )
    passed("All six right: the direct path's top next tokens are the corpus's bigrams.")


def head_reading(head: int | None = None) -> dict[str, Any]:
    """What the lesson's model does at the story's final "in": where each head looks, and what head 0's OV writes.

    Returns the story's tokens (as text), the last member's position, the
    head that puts most attention there, that attention, and the head's full
    OV row for the last member.
    """
    from neuralcircuits.science import attention_only as aot

    _, w = _trained()
    tok = aot.tokenizer()
    tokens = aot.story_tokens(aot.STORY, tok)
    words = tok.convert_ids_to_tokens(tokens[0].tolist())
    _, patterns = aot.forward(w, tokens)  # [1, head, q, k]
    kinds = aot.token_kinds(tok)
    last = max(i for i, t in enumerate(tokens[0].tolist()) if kinds[t] == "member")
    final = patterns[0, :, -1]  # [head, key]
    head = int(final[:, last].argmax()) if head is None else head
    ov_row = aot.full_ov(w, head)[tokens[0, last]]
    return {
        "words": words,
        "last": last,
        "head": head,
        "attention": float(final[head, last]),
        "ov_row": ov_row,
        "tokenizer": tok,
    }


@check
def check_head_reading(predict_head_reading) -> None:
    """Check a predicted (position the answer's head reads, token its OV circuit writes)."""
    got = call(predict_head_reading, name="predict_head_reading")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail('Return a pair (position, token), e.g. (7, "Hat").')
    position, token = got
    r = head_reading()
    words, last, head = r["words"], r["last"], r["head"]
    n = len(words)
    if isinstance(position, str):
        fail(
            f"The position should be a number such as 7, not the string {brief(position)}; "
            "the token comes second."
        )
    if isinstance(position, bool) or not isinstance(position, int):
        try:
            whole = int(position)
            if float(position) != whole:
                raise ValueError
        except (TypeError, ValueError):
            fail(
                f"The position should be a whole number from 0 to {n - 1}; got {brief(position)}."
            )
        position = whole
    if not -n <= position < n:
        fail(
            f"The story has {n} positions (0 to {n - 1}); {position} is not one of them."
        )
    position %= n
    if isinstance(token, int) and not isinstance(token, bool):
        fail(f'The token should be a string, as the tokenizer writes it: "{token}".')
    if not isinstance(token, str):
        fail(f'The token should be a string such as "Hat"; got {brief(token)}.')
    member = words[last]
    if position != last:
        fail(
            f"Position {position} holds {words[position]!r}; the story's answer is read "
            f"from the last member, {member!r} at position {last}, where head {head} "
            f"puts {r['attention']:.1%} of the final 'in''s attention."
        )
    tok = r["tokenizer"]
    ids = tok.convert_tokens_to_ids(token)
    if token not in tok.get_vocab():
        fail(f"{token!r} is not a token of this model's vocabulary.")
    row = r["ov_row"]
    top = int(row.argmax())
    top_word = tok.convert_ids_to_tokens(top)
    if ids != top:
        copy = " (a copy of the member it reads)" if token == member else ""
        fail(
            f"When head {head} attends to {member!r}, its OV circuit gives {token!r}{copy} "
            f"a logit of {row[ids]:.1f}; its largest, {row[top]:.1f}, goes to {top_word!r}."
        )
    passed(
        f"Right: head {head} reads {member!r} at position {last} ({r['attention']:.1%} of "
        f"its attention) and writes {top_word!r}."
    )
