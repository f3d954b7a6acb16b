"""Lesson 03's checks: right answers pass, wrong ones fail with one clear sentence."""

import torch
from check_answers import fails_with as fails
from check_answers import stub

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import head_roles
from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.sequence_circuits.checks import (
    check_logit_diff_metric,
    check_mean_ablate_head,
    check_ov_successor_score,
    check_patch_one_head,
    check_shared_components,
)

torch.set_num_threads(1)


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
def test_ov_successor_score(capsys):
    check_ov_successor_score(head_roles.ov_successor_score)
    assert "✔" in capsys.readouterr().out
    fails(check_ov_successor_score, stub, "not written yet")
    fails(check_ov_successor_score, lambda *a: None, "None")
    fails(check_ov_successor_score, lambda *a: [0.5], "torch.Tensor")

    def count(resid, W_V, W_O, read, succ, k=5):
        top = read(resid @ W_V @ W_O).topk(k, -1).indices
        return float((top == succ[:, None]).any(-1).sum())

    fails(check_ov_successor_score, count, "count", "share")

    def top1(resid, W_V, W_O, read, succ, k=5):
        return head_roles.ov_successor_score(resid, W_V, W_O, read, succ, 1)

    fails(check_ov_successor_score, top1, "top-1", "top 5")

    def no_read(resid, W_V, W_O, read, succ, k=5):
        return head_roles.ov_successor_score(resid, W_V, W_O, lambda x: x, succ, k)

    fails(check_ov_successor_score, no_read, "without `read`")

    def wrong_order(resid, W_V, W_O, read, succ, k=5):
        return head_roles.ov_successor_score(resid, W_O.T, W_V.T, read, succ, k)

    fails(check_ov_successor_score, wrong_order)

    def copy_score(
        resid, W_V, W_O, read, succ, k=5
    ):  # "is the top token the member itself?"
        return 0.1

    fails(check_ov_successor_score, copy_score, "instead of")


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
