"""Lesson 04's checks: right answers pass, wrong ones fail with one clear sentence."""

import torch
from check_answers import fails_with as fails
from check_answers import stub

from neuralcircuits.science import (
    attribution,
    head_roles,
)
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.sequence_circuits.checks import (
    ablation_pruning,
    check_attention_to_last_member,
    check_head_dla,
    check_head_prediction,
    check_iterative_prune,
    check_logit_diff_metric,
    check_mean_ablate_head,
    check_ov_successor_score,
    check_patch_one_head,
    check_shared_components,
    check_shift_corrections,
    components_surgery,
)


# -- 1. logit difference ---------------------------------------------------
def right_metric(logits, answers, wrong):
    last = logits[:, -1]
    rows = torch.arange(len(answers))
    return (last[rows, answers] - last[rows, wrong]).mean()


def test_logit_diff_metric(capsys):
    check_logit_diff_metric(right_metric)
    assert "✔" in capsys.readouterr().out
    check_logit_diff_metric(lambda *a: float(right_metric(*a)))  # a float is fine
    fails(check_logit_diff_metric, stub, "not written yet")
    fails(check_logit_diff_metric, lambda *a: None, "None")
    fails(check_logit_diff_metric, lambda *a: "3", "torch.Tensor")
    fails(check_logit_diff_metric, lambda *a: -right_metric(*a), "sign")
    fails(
        check_logit_diff_metric,
        lambda lg, a, w: right_metric(lg[:, :1], a, w),
        "position 0",
    )

    def per_prompt(logits, answers, wrong):
        rows = torch.arange(len(answers))
        return logits[:, -1][rows, answers] - logits[:, -1][rows, wrong]

    fails(check_logit_diff_metric, per_prompt, "one value per prompt", ".mean()")
    fails(check_logit_diff_metric, lambda *a: per_prompt(*a).sum(), "sums")
    fails(check_logit_diff_metric, lambda *a: per_prompt(*a)[:2], "shape")

    def probs(logits, answers, wrong):
        return right_metric(logits.softmax(-1), answers, wrong)

    fails(check_logit_diff_metric, probs, "probabilities")
    fails(check_logit_diff_metric, lambda *a: right_metric(*a) + 1, "instead of")


# -- 2. mean-ablation hook ---------------------------------------------------
def right_hook(z, hook, head, mean):
    z = z.clone()
    z[:, :, head] = mean
    return z


def test_mean_ablate_head(capsys):
    check_mean_ablate_head(right_hook)
    assert "✔" in capsys.readouterr().out

    def in_place(z, hook, head, mean):  # modifying z and returning it is fine
        z[:, :, head] = mean
        return z

    check_mean_ablate_head(in_place)
    fails(check_mean_ablate_head, stub, "not written yet")

    def no_return(z, hook, head, mean):
        z[:, :, head] = mean

    fails(check_mean_ablate_head, no_return, "None", "return")

    def zero(z, hook, head, mean):
        z = z.clone()
        z[:, :, head] = 0
        return z

    fails(check_mean_ablate_head, zero, "zero ablation")

    def batch_mean(z, hook, head, mean):
        z = z.clone()
        z[:, :, head] = z[:, :, head].mean(0)
        return z

    fails(check_mean_ablate_head, batch_mean, "mean of this batch")

    def all_heads(z, hook, head, mean):
        return mean[None, :, None, :].expand_as(z).clone()

    fails(check_mean_ablate_head, all_heads, "only head")

    def wrong_head(z, hook, head, mean):
        return right_hook(z, hook, head + 1, mean)

    fails(check_mean_ablate_head, wrong_head, "instead of head")
    fails(check_mean_ablate_head, lambda z, hook, head, mean: z, "unchanged")
    fails(check_mean_ablate_head, lambda z, hook, head, mean: z[:, :, head], "shape")


# -- 3. patching one head ----------------------------------------------------
def patch(
    model,
    clean,
    corrupted,
    layer,
    head,
    metric,
    *,
    reverse=False,
    heads=None,
    source_head=None,
):
    name = f"blocks.{layer}.attn.hook_z"
    src, dst = (corrupted, clean) if reverse else (clean, corrupted)
    with torch.no_grad():
        _, cache = model.run_with_cache(src, names_filter=lambda n: n == name)

        def hook(z, hook):
            z = z.clone()
            for h in heads if heads is not None else [head]:
                z[:, :, h] = cache[name][
                    :, :, source_head if source_head is not None else h
                ]
            return z

        return metric(model.run_with_hooks(dst, fwd_hooks=[(name, hook)]))


def test_patch_one_head(capsys):
    check_patch_one_head(patch)
    assert "✔" in capsys.readouterr().out
    fails(check_patch_one_head, stub, "not written yet")
    fails(check_patch_one_head, lambda m, c, x, L, h, metric: None, "None")
    fails(check_patch_one_head, lambda m, c, x, L, h, metric: torch.zeros(2), "shape")
    fails(
        check_patch_one_head,
        lambda m, c, x, L, h, metric: metric(m(x)),
        "corrupted run unchanged",
    )
    fails(check_patch_one_head, lambda m, c, x, L, h, metric: metric(m(c)), "clean run")
    fails(check_patch_one_head, lambda *a: patch(*a, reverse=True), "direction")
    fails(
        check_patch_one_head,
        lambda *a: patch(*a, heads=range(a[0].cfg.n_heads)),
        "every head of layer",
    )

    def neighbour(m, c, x, L, h, metric):
        other = (h + 1) % m.cfg.n_heads
        return patch(m, c, x, L, other, metric)

    fails(check_patch_one_head, neighbour, "that is head")
    fails(check_patch_one_head, lambda *a: patch(*a) + 0.5, "instead of")


# -- 4. OV successor score ---------------------------------------------------
def right_ov(inputs, layer, W_V, W_O, read, succ, k=5):
    return head_roles.ov_successor_score(inputs[layer], W_V, W_O, read, succ, k)


def test_ov_successor_score(capsys):
    check_ov_successor_score(right_ov)

    def loop(
        inputs, layer, W_V, W_O, read, succ, k=5
    ):  # written differently: row by row
        hits = [
            int(succ[i]) in read((x @ W_V @ W_O)[None])[0].topk(k).indices.tolist()
            for i, x in enumerate(inputs[layer])
        ]
        return sum(hits) / len(hits)

    check_ov_successor_score(loop)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_ov_successor_score, stub, "not written yet")
    fails(check_ov_successor_score, lambda *a: None, "None")
    fails(check_ov_successor_score, lambda *a: [0.5], "torch.Tensor")

    def count(inputs, layer, W_V, W_O, read, succ, k=5):
        top = read(inputs[layer] @ W_V @ W_O).topk(k, -1).indices
        return float((top == succ[:, None]).any(-1).sum())

    fails(check_ov_successor_score, count, "count", "share")

    def top1(inputs, layer, W_V, W_O, read, succ, k=5):
        return right_ov(inputs, layer, W_V, W_O, read, succ, 1)

    fails(check_ov_successor_score, top1, "top-1", "whatever `k` is")

    def no_read(inputs, layer, W_V, W_O, read, succ, k=5):
        return right_ov(inputs, layer, W_V, W_O, lambda x: x, succ, k)

    fails(check_ov_successor_score, no_read, "without `read`")

    def layer_0_input(inputs, layer, W_V, W_O, read, succ, k=5):  # the old measurement
        return right_ov(inputs, 0, W_V, W_O, read, succ, k)

    fails(check_ov_successor_score, layer_0_input, "reads layer 0's input", "own layer")

    def wrong_order(inputs, layer, W_V, W_O, read, succ, k=5):
        return right_ov(inputs, layer, W_O.T, W_V.T, read, succ, k)

    fails(check_ov_successor_score, wrong_order)

    def mutating(inputs, layer, W_V, W_O, read, succ, k=5):
        value = right_ov(inputs, layer, W_V, W_O, read, succ, k)
        inputs.zero_()
        return value

    fails(check_ov_successor_score, mutating, "in place")
    fails(check_ov_successor_score, lambda *a: 0.1, "instead of")


# -- 5. overlap ---------------------------------------------------------------
def test_shared_components(capsys):
    check_shared_components(cd.shared_components)
    check_shared_components(lambda a, b: [str(c) for c in cd.shared_components(a, b)])
    assert "✔" in capsys.readouterr().out
    fails(check_shared_components, stub, "not written yet")
    fails(check_shared_components, lambda a, b: None, "None")
    fails(check_shared_components, lambda a, b: "0.1", "list")
    fails(check_shared_components, lambda a, b: cd.sort_components([*a, *b]), "only in")
    fails(
        check_shared_components,
        lambda a, b: cd.sort_components(set(a) - set(b)),
        "only in",
    )
    fails(
        check_shared_components, lambda a, b: cd.shared_components(a, b)[1:], "misses"
    )

    def twice(a, b):
        common = cd.shared_components(a, b)
        return common + common[:1]

    fails(check_shared_components, twice, "twice")
    fails(
        check_shared_components,
        lambda a, b: sorted(str(c) for c in cd.shared_components(a, b)),
        "model order",
    )
    fails(check_shared_components, lambda a, b: [object()], "not a component")
    assert Component.parse("MLP0") in cd.shared_components(["MLP0"], ["MLP0"])


# -- robustness of the existing checks -------------------------------------------
def test_logit_diff_metric_guards_its_inputs():
    def mutating(logits, answers, wrong):
        value = right_metric(logits, answers, wrong)
        logits.zero_()
        return value

    fails(check_logit_diff_metric, mutating, "in place")

    def fixed_batch(logits, answers, wrong):  # only right for a batch of 6
        return right_metric(logits[:6], answers[:6], wrong[:6])

    fails(check_logit_diff_metric, fixed_batch, "instead of")


# -- attention to the last member ----------------------------------------------------
def right_readout(pattern, member_pos):
    rows = torch.arange(pattern.shape[0])
    return pattern[rows, :, -1, member_pos[:, -1]].mean(0)


def test_attention_to_last_member(capsys):
    check_attention_to_last_member(right_readout)

    def loop(pattern, member_pos):  # written differently: a loop over rows
        return torch.stack(
            [pattern[i, :, -1, int(p)] for i, p in enumerate(member_pos[:, -1])]
        ).mean(0)

    check_attention_to_last_member(loop)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_attention_to_last_member, stub, "not written yet")
    fails(check_attention_to_last_member, lambda p, m: None, "None")
    rows = lambda p: torch.arange(p.shape[0])  # noqa: E731
    fails(
        check_attention_to_last_member,
        lambda p, m: p[rows(p), :, -1, m[:, 0]].mean(0),
        "first member",
    )
    fails(
        check_attention_to_last_member,
        lambda p, m: p[:, :, -1, -1].mean(0),
        "final position itself",
    )
    fails(
        check_attention_to_last_member,
        lambda p, m: p[:, :, -1, int(m[0, -1])].mean(0),
        "row 0",
    )
    fails(
        check_attention_to_last_member,
        lambda p, m: p[rows(p), :, -1, m[:, -1]],
        "one value per prompt",
    )
    fails(
        check_attention_to_last_member,
        lambda p, m: p[rows(p), :, -1, m[:, -1]].sum(0),
        "sums",
    )
    fails(
        check_attention_to_last_member,
        lambda p, m: p[rows(p), :, m[:, -1], m[:, -1]].mean(0),
        "own query row",
    )


def test_head_prediction(capsys):
    table = torch.tensor([[0.1, 0.0, 0.2, 0.9], [0.05, 0.3, 0.0, 0.1]])
    check_head_prediction("0.3", table)
    check_head_prediction(
        lambda: Component("head", 0, 3), table
    )  # a function, a Component
    assert capsys.readouterr().out.count("✔") == 2

    def predict(p):
        return check_head_prediction(p, table)

    fails(predict, "1.1", "ranks head 0.3 first")
    fails(predict, stub, "not written yet")
    fails(predict, "", "Return your prediction")
    fails(predict, "head three", "not a head")
    fails(predict, "MLP0", "MLP")
    fails(predict, "4.1", "not in this model")


# -- direct logit attribution --------------------------------------------------------
def test_head_dla(capsys):
    check_head_dla(attribution.head_dla)

    def loop(z, W_O, scale, directions):  # written differently: head by head
        return torch.stack(
            [
                ((z[:, h] @ W_O[h]) / scale * directions).sum(-1).mean()
                for h in range(z.shape[1])
            ]
        )

    check_head_dla(loop)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_head_dla, stub, "not written yet")
    fails(check_head_dla, lambda *a: None, "None")
    fails(check_head_dla, lambda z, W, s, d: -attribution.head_dla(z, W, s, d), "sign")
    fails(
        check_head_dla,
        lambda z, W, s, d: attribution.head_dla(z, W, torch.ones_like(s), d),
        "LayerNorm",
    )
    fails(
        check_head_dla,
        lambda z, W, s, d: attribution.head_dla(z, W, 1 / s, d),
        "multiplies",
    )
    fails(
        check_head_dla,
        lambda z, W, s, d: attribution.head_dla(z, W, s, d) * z.shape[0],
        "sums",
    )
    fails(
        check_head_dla,
        lambda z, W, s, d: attribution.head_dla(z, W, s.mean().expand_as(s), d),
        "mean scale",
    )
    fails(
        check_head_dla,
        lambda z, W, s, d: (
            torch.einsum("bhd,hdm->bhm", z, W) / s[:, :, None] * d[:, None]
        ).sum(-1),
        "one value per prompt",
    )


# -- the pruning loop ----------------------------------------------------------------
def test_iterative_prune(capsys):
    check_iterative_prune(cd.iterative_prune)

    def recursive(
        order, performance, threshold=0.8, circuit=None
    ):  # written differently
        circuit = set(order("backward")) if circuit is None else circuit
        before = len(circuit)
        for comp in order("backward") + order("forward"):
            if comp in circuit and performance(circuit - {comp}) >= threshold:
                circuit = circuit - {comp}
        return (
            sorted(circuit)
            if len(circuit) == before
            else recursive(order, performance, threshold, circuit)
        )

    check_iterative_prune(recursive)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_iterative_prune, stub, "not written yet")
    fails(check_iterative_prune, lambda o, p, t: None, "None")
    fails(check_iterative_prune, lambda o, p, t: set(o("backward")), "removes nothing")

    def variant(**options):
        return lambda o, p, t: ablation_pruning._prune(o, p, t, **options)

    fails(
        check_iterative_prune,
        variant(directions=("backward",), rounds=1),
        "backward pass",
    )
    fails(
        check_iterative_prune,
        variant(directions=("forward", "backward")),
        "forward first",
    )
    fails(check_iterative_prune, variant(cumulative=False), "alone")
    fails(check_iterative_prune, variant(relative=True), "current circuit")
    fails(check_iterative_prune, variant(strict=True), "exactly the threshold", ">=")
    fails(check_iterative_prune, variant(rounds=1), "repeat until")

    def removed(o, p, t):
        return set(o("backward")) - cd.iterative_prune(o, p, t)

    fails(check_iterative_prune, removed, "removed")


# -- surgery corrections ---------------------------------------------------------------
def right_shift(value_means, shift):
    return components_surgery._shift_want(value_means, shift)


def test_shift_corrections(capsys):
    check_shift_corrections(right_shift)

    def vectorised(means, shift):  # written differently: no loop
        out = torch.zeros_like(means)
        m = torch.arange(12)
        ok = (m + shift >= 0) & (m + shift < 12)
        src, dst = m[ok], m[ok] + shift
        diff = means[dst] - means[src]
        out[src] = diff.nan_to_num(0.0)
        return out

    check_shift_corrections(vectorised)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_shift_corrections, stub, "not written yet")
    fails(check_shift_corrections, lambda m, s: None, "None")
    fails(check_shift_corrections, lambda m, s: -right_shift(m, s), "sign")
    fails(check_shift_corrections, lambda m, s: right_shift(m, -s), "wrong way")
    fails(check_shift_corrections, lambda m, s: m.roll(-s, 0) - m, "NaN")
    fails(
        check_shift_corrections,
        lambda m, s: (m.roll(-s, 0) - m).nan_to_num(0.0),
        "wraps around",
    )

    def mutating(m, s):
        out = right_shift(m, s)
        m.nan_to_num_(0.0)
        return out

    fails(check_shift_corrections, mutating, "in place")
