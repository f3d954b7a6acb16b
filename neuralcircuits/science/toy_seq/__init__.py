"""toy-seq: the course's own small transformer for sequence continuation.

Lesson 04 studies how a model continues "Van was done in 1. Hat was done in
2. ... Sun was done in" -> " 5" (Lan, Torr & Barez 2023). GPT-2 small cannot
be downloaded everywhere, so the course ships this model, trained on data we
wrote, and trained so that its circuit has GPT-2's anatomy: a successor
head above layer 0 that reads MLP 0's output, and circuits that overlap
without being identical. (The ground truth every method is checked against
is the hand-built transformer, ``hand_built_transformer``; what is written
here about toy-seq is measured, not known by construction.)

Architecture (``train.default_model_config``): a TransformerLens native
model (``TransformerBridge.boot_native``), 4 layers, 2 heads of d_head 32,
d_model 64, GELU MLPs of 256 neurons, LayerNorm, learned positions, n_ctx
48; a word-level vocabulary of 174 tokens (``<bos> <pad> <unk>``, "was",
"in", ".", the three verbs, the 36 members, 69 nouns, 60 first names).
**Layer 0's queries and keys are zero and frozen** (``TrainConfig.
uniform_layers``): its heads attend uniformly to the prefix (a bag of
tokens), so no layer-0 head can pick out the last member and the mover has
to live above layer 0. With ordinary layer-0 attention a layer-0 head moves
the member and MLP 0 adds one, and layers above stay unused (the previous
toy-seq did exactly that).

Training (``train.TrainConfig``; ``make toy-model`` reproduces the shipped
weights bit for bit from seed 0): 600 AdamW steps of 128 stories, all three
tasks and all three templates mixed, cross-entropy on the answer only.
Stories show 3 to 6 members, so the last member is not always at the same
place; 30% of them show random members, and the target is always the
successor of the last member shown. (first word, last word) pairs with
``held_out`` true never appear in training. No head-norm penalty (it moves
the work between heads and made the three circuits identical). ``make
toy-model`` takes 108 s of CPU (user + sys, start-up and final measurement
included; one torch thread for training), about 2 min on an idle 2-core
machine (measured 4 min 53 s wall on a machine shared with a load of ~10).

Measured on the shipped weights, held-out word pairs, 150 prompts per task
over the three templates (``train.circuit_report``; tests/test_toy_seq.py
re-checks each target):

- clean top-1 accuracy 100% on every task; the paper's filter (top-1 right,
  p(correct) > 2 p(incorrect)) keeps 100%; logit difference 12.3 numerals,
  12.4 number words, 11.9 months.
- corrupted prompts ("... in 3. Desk was done in 3. Sun was done in"): top-1
  is the successor of the last member (" 4") on 100% of prompts of every
  task, so the logit difference flips sign, as GPT-2's does in the paper.
- single mean ablations (share of the logit difference left; means over the
  matching random-member prompts, per template and position) and OV
  successor scores (``head_roles.ov_inputs``: layer 0 reads ln1 of the
  embedding, later layers ln1 of the residual after block 0; top 5 of the
  vocabulary):

  =========  ==========================  ==========================
  component  left after ablation          OV successor score
             (numerals / words / months)  (numerals / words / months)
  =========  ==========================  ==========================
  head 0.0   100% / 100% / 100%           27% / 18% / 45%
  head 0.1   100% / 100% / 101%           18% / 27% / 45%
  MLP 0       12% /  27% /  16%
  head 1.0    72% /  76% /  83%          100% / 100% / 100%
  head 1.1    87% /  99% /  84%          100% / 100% / 100%
  MLP 1       89% /  92% /  81%
  head 2.0   100% /  98% /  99%           82% / 82% / 100%
  head 2.1    98% /  99% /  98%           82% / 91% /  91%
  MLP 2       90% /  90% /  90%
  head 3.0    98% / 100% /  99%           18% /  9% /   9%
  head 3.1    98% /  99% /  99%           18% /  0% /  27%
  MLP 3       91% /  90% /  90%
  =========  ==========================  ==========================

- circuits from the paper's iterative pruning (threshold 0.8), what each
  keeps alone, knocked out, and what 20 random component sets of the same
  size keep when knocked out (mean +- standard deviation):

  ============  ==========================  =====  =========  ==========
  task          circuit                     alone  knocked    random
                                                   out        same-size
  ============  ==========================  =====  =========  ==========
  numerals      heads 1.0, 1.1; MLPs 0-2     82%     1%       35% +- 28%
  number words  head 1.0; MLPs 0-2           82%     9%       54% +- 30%
  months        heads 1.0, 1.1; MLPs 0-2     85%     0%       36% +- 28%
  ============  ==========================  =====  =========  ==========

So head 1.0 (``SUCCESSOR_HEAD``) is a successor head: from the final "in"
it attends to the last member (99% of its attention) and its OV circuit
maps every member to its successor (100% top-5 on all three tasks), reading
MLP 0's output as GPT-2's 9.1 reads its effective embedding. Head 1.1 is a
second, weaker copy of it (a backup, in Wang et al.'s sense: it attends
and maps the same way, but the model loses less without it): pruning keeps
it for numerals and months and drops it for number words, so the three
circuits overlap (head 1.0 and MLPs 0-2 are shared) without being
identical (``CIRCUITS``). Layer 2's heads attend to the last member too
(60-70% of their attention) and have successor-like OV circuits, but the
model does not need them. Layer 0's heads score 18-45% only because a
bag-of-tokens average is read out through the unembedding; they attend to
nothing in particular.

Targets of issue 10 not met by this model: head 1.0's mean ablation costs
28% on numerals and 24% on number words but only 17% on months (target:
>= 20% on every task), and no layer-0 head composes with it (layer 0
attends uniformly by construction; what head 1.0 reads from layer 0 is
MLP 0). Variants tried (seed 0 unless said; margin = random same-size
knockouts minus the circuit's knockout, per task):

- 3 layers x 2 heads: head 1.0 costs 33% / 25% / 37%, circuits differ, but
  margins 29% / 32% / 24% (too few components: random sets of half the
  model hit MLP 0 or head 1.0 almost always).
- 4 layers x 2 heads, seed 0: shipped (above). Seed 1: work split between
  1.0 and 1.1 (neither costs 20% on every task), circuits identical.
  Seed 2: no head costs 20% on every task, numerals margin 18%. Seed 3:
  1.0 and 1.1 split the work (1.0 leaves 81% / 88% / 77%), circuits
  identical (margins 38-41%).
- 4 layers x 2 heads with layers 0 and 2 uniform: 1.0 and 1.1 share the
  work (costs 13-30%), circuits identical.
- 5 layers x 1 head: head 1.0 costs 73% / 77% / 90% and circuits differ,
  but margins 18% / 13% / 21%; with one head per layer the course's
  head-patching checks cannot tell "one head" from "every head of the
  layer" either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from neuralcircuits.science import sequences

TOY_DIR = Path(__file__).resolve().parent  # the shared tokenizer files
# Each model's config.json and weights, in a folder named for its training data.
MODEL_DIRS: dict[str, Path] = {
    "toy-seq": TOY_DIR / "mixed",  # the default: the formats meet in its stories
    "toy-seq-separate": TOY_DIR / "separate",  # the control: one format per story
}
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

BOS, PAD, UNK = "<bos>", "<pad>", "<unk>"

# Measured on the shipped weights (see the module docstring; the tests re-check
# them). Facts about a trained model, not ground truth: that is the hand-built
# transformer's job.
SUCCESSOR_HEAD: tuple[int, int] = (1, 0)
CIRCUITS: dict[str, str] = {
    "numerals": "heads 1.0, 1.1; MLPs 0, 1, 2",
    "number_words": "heads 1.0; MLPs 0, 1, 2",
    "months": "heads 1.0, 1.1; MLPs 0, 1, 2",
}


def vocabulary() -> list[str]:
    """Every token toy-seq knows, in id order: specials, template words, members, words."""
    words = [BOS, PAD, UNK, "was", "in", ".", *sequences.VERBS]
    for task in sequences.TASKS:
        words += sequences.members(task)
    words += sequences.NOUNS + sequences.NAMES
    seen: dict[str, None] = {}
    for w in words:
        seen.setdefault(w, None)
    return list(seen)


def build_tokenizer(directory: Path | str) -> Any:
    """Write toy-seq's word-level tokenizer files into ``directory`` and load them.

    Whitespace-and-punctuation pre-tokenization reads the paper's exact text
    ("in 3." -> "in", "3", "."); the post-processor prepends ``<bos>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = {w: i for i, w in enumerate(vocabulary())}
    tk = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    tk.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token=BOS, eos_token=BOS, unk_token=UNK, pad_token=PAD
    )
    fast.save_pretrained(str(directory))
    return load_tokenizer(directory)


def load_tokenizer(directory: Path | str = TOY_DIR) -> Any:
    """toy-seq's tokenizer, loaded from files with ``add_bos_token=True``."""
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    missing = [f for f in TOKENIZER_FILES if not (directory / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"toy-seq tokenizer files {missing} are missing from {directory}; "
            "rebuild them with `make toy-model` (python -m neuralcircuits.science.toy_seq.train)."
        )
    return PreTrainedTokenizerFast.from_pretrained(str(directory), add_bos_token=True)


def read_config(directory: Path | str = MODEL_DIRS["toy-seq"]) -> dict:
    """The shipped config.json: ``{"model": {...}, "training": {...}}``."""
    path = Path(directory) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"toy-seq config {path} is missing; rebuild it with `make toy-model`."
        )
    return json.loads(path.read_text())


def build_model(
    model_cfg: dict, tokenizer: Any, seed: int | None = None, name: str = "toy-seq"
) -> Any:
    """A toy-seq-shaped TransformerBridge (``boot_native``) called ``name``, randomly initialised."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(**model_cfg, seed=seed)
    return TransformerBridge.boot_native(cfg, tokenizer=tokenizer, model_name=name)  # type: ignore[attr-defined]  # TL attaches boot_native with setattr


def build_native(model_cfg: dict, seed: int = 0) -> torch.nn.Module:
    """A plain torch toy-seq module (TL's NativeModel, what boot_native wraps).

    Training uses this directly: it runs without the bridge's hooks, several
    times faster. ``to_bridge`` then wraps a copy of its weights.
    """
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge.sources.native import (
        NativeModel,
        initialize_native_model,
    )

    cfg = TransformerBridgeConfig(**model_cfg, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = NativeModel(cfg)
        initialize_native_model(net, cfg)
    return net


def to_bridge(
    net: torch.nn.Module, model_cfg: dict, tokenizer: Any, name: str = "toy-seq"
) -> Any:
    """A boot_native TransformerBridge carrying the weights of ``net``, in eval mode."""
    model = build_model(model_cfg, tokenizer, seed=0, name=name)
    _load_state(model, net.state_dict(), model_cfg)
    model.eval()
    return model


def _load_state(model: Any, state: dict, model_cfg: dict) -> None:
    """Copy native-module weights into a bridge; RuntimeError on any mismatch."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge.sources.native import NativeModel

    expected = set(NativeModel(TransformerBridgeConfig(**model_cfg)).state_dict())
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise RuntimeError(f"missing keys {missing[:3]}, unexpected keys {extra[:3]}")
    # The bridge exposes some weights under two names (fc_in / in); writing one
    # writes both, so the alias it reports as missing is loaded too.
    model.load_state_dict(state, strict=False)


def save_weights(net: torch.nn.Module, directory: Path | str) -> Path:
    """Write a native module's weights as safetensors; returns the file."""
    from safetensors.torch import save_file

    path = Path(directory) / WEIGHTS_FILE
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"model": "toy-seq"})
    path.chmod(0o644)  # save_file writes 0600; the file ships in the package
    return path


def load_weights(model: Any, path: Path | str, model_cfg: dict) -> None:
    """Load safetensors weights into a native bridge, with one-sentence errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    hint = "Rebuild it with `make toy-model` (python -m neuralcircuits.science.toy_seq.train)."
    if not path.exists():
        raise FileNotFoundError(f"toy-seq weights file {path} is missing. {hint}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(
            f"toy-seq weights file {path} is not a valid safetensors file ({err}). {hint}"
        ) from None
    try:
        _load_state(model, state, model_cfg)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:300]
        raise ValueError(
            f"toy-seq weights file {path} does not match config.json ({detail}). {hint}"
        ) from None


def load(name: str = "toy-seq", directory: Path | str | None = None) -> Any:
    """A trained toy model (a TransformerBridge) in eval mode, offline.

    ``name`` is "toy-seq" or "toy-seq-separate"; ``directory`` reads the
    config and weights from another folder (its own tokenizer files if it
    has them, else the shared ones).
    """
    if name not in MODEL_DIRS:
        raise ValueError(
            f"Unknown toy model {name!r}; the toy models are {', '.join(MODEL_DIRS)}."
        )
    directory = MODEL_DIRS[name] if directory is None else Path(directory)
    cfg = read_config(directory)
    has_tokenizer = all((directory / f).exists() for f in TOKENIZER_FILES)
    tok = load_tokenizer(directory if has_tokenizer else TOY_DIR)
    model = build_model(cfg["model"], tok, seed=0, name=name)
    load_weights(model, directory / WEIGHTS_FILE, cfg["model"])
    model.eval()
    return model


def held_out(words: tuple[str, ...] | list[str], template: str) -> bool:
    """True for the (first word, last word) pairs that training never shows.

    About one pair in ten is held out, so accuracy on these prompts measures
    generalisation to word combinations the model has not seen.
    """
    pool = sequences.words_for(template)
    return (pool.index(words[0]) + 3 * pool.index(words[-1])) % 10 == 0


def held_out_dataset(
    tokenizer: Any,
    task: str,
    kind: str = "clean",
    template: str = "all",
    n: int = 256,
    seed: int = 1,
) -> sequences.SequenceDataset:
    """A ``make_dataset`` dataset restricted to held-out word pairs (n rows)."""
    if template == "all":
        sizes = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
        parts = [
            held_out_dataset(tokenizer, task, kind, t, size, seed)
            for t, size in zip(sequences.TEMPLATES, sizes, strict=True)
        ]
        out = sequences.concat(parts)
        out.template = "all"
        return out
    big = sequences.make_dataset(tokenizer, task, kind, template, n=20 * n, seed=seed)
    keep = torch.tensor([held_out(w, template) for w in big.words])
    return big.subset(keep.nonzero().flatten()[:n])
