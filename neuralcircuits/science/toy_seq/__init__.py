"""toy-seq and toy-seq-separate: the course's own small transformers for sequence continuation.

Lesson 04 studies how a model continues "Van was done in 1. Hat was done in
2. ... Sun was done in" -> " 5" (Lan, Torr & Barez 2023). GPT-2 small cannot
be downloaded everywhere, so the course ships two models trained on stories
in the paper's templates, with the same design and different data:

- **toy-seq** (the default, folder ``mixed/``): half of its training
  stories keep one format throughout (the paper's three tasks); in the
  other half every member takes a random format and the answer comes in
  the format of the *first* member ("in 3. ... in four. ... in May. ... in"
  -> "6"), as numbers, number words and months meet in ordinary text. The
  value must be read from the last member whatever its format, and the
  format from elsewhere.
- **toy-seq-separate** (folder ``separate/``): one format per story. It is
  the course's previous toy-seq, weights unchanged.

Lesson 04 runs the "One is 1" measurements on both: the contrast shows what
in the data makes 5, five and May share a representation. Nothing ties them
by construction: every member has its own token and embedding row, and no
measurement of the lesson is a training objective. What is written here
about either model is measured (``train.circuit_report`` and the lesson);
the only model whose circuit is known by construction is the hand-built
transformer (``hand_built_transformer``).

Architecture (``train.default_model_config``): a TransformerLens native
model (``TransformerBridge.boot_native``), d_model 64, GELU MLPs of 256
neurons, LayerNorm, learned positions, n_ctx 48; toy-seq has 4 layers of 4
heads (d_head 16), toy-seq-separate 4 layers of 2 heads (d_head 32). A
word-level vocabulary of 174 tokens (``<bos> <pad> <unk>``, "was", "in",
".", the three verbs, the 36 members, 69 nouns, 60 first names), shared by
both. **Layer 0's queries and keys are zero and frozen**
(``TrainConfig.uniform_layers``): its heads attend uniformly to the prefix
(a bag of tokens), so no layer-0 head can pick out the last member and the
mover has to live above layer 0, as in GPT-2.

Training (``train.RECIPES``; ``make toy-model`` retrains both, side by side,
one process and one thread each, and reproduces the shipped weights bit for
bit on this machine): AdamW, batches of 128 stories of 3 to 6 members, all
three templates, cross-entropy on the answer only; 30% of stories have
random members, the target always the successor of the last member shown.
(first word, last word) pairs with ``held_out`` true never appear in
training, and the lesson's prompts on these models are drawn from them
(``circuit_study.prompt_maker``). toy-seq: 1,000 steps, ``p_mixed`` 0.5,
seed 0. toy-seq-separate: 600 steps, seed 0. Measured here: 85 s for
toy-seq-separate and 150-165 s for toy-seq, each alone on one core.

Measured on toy-seq, held-out word pairs, 150 prompts per task
(``train.circuit_report``; tests/test_toy_seq.py re-checks each target):

- clean top-1 100% on every task, the paper's filter keeps 100%; logit
  difference 14.0 / 13.5 / 14.1 (numerals / number words / months);
  corrupted prompts give the successor of the repeated member on 100%.
- head 1.3 (``SUCCESSOR_HEAD``) attends from the final "in" to the last
  member (all of its attention) and its OV circuit maps a value to the next
  value, in whichever format (top-5 successor score 91% on every task; the
  successor is the top member for 82-91% of members, chance 8%).
  Mean-ablating it leaves 28% / 17% / 27%: it costs more than 70% of every
  task. Heads 1.0 and 1.2 also attend to the last member and back it up
  weakly (alone they cost nothing; with 1.3 gone they cost 10-15 points).
  Head 1.1 attends to the first member, whose format the answer takes in
  mixed stories; in the paper's one-format prompts it costs nothing.
  MLP 0 leaves 16% / 14% / 16%.
- circuits (iterative pruning at 0.8), alone / knocked out / 20 random
  same-size knockouts: numerals heads 1.3, 2.1, 2.2, 2.3, MLPs 0-2: 80% /
  -2% / 45% +- 38%; number words heads 1.3, 2.1, 2.2, 2.3, MLPs 0, 1, 3:
  81% / -1% / 40% +- 38%; months head 1.3, MLPs 0-2: 84% / 5% / 69% +-
  38%. Head 1.3 is in all three; the circuits differ.
- a value code shared by the formats (lesson 04, section 10, before block
  1): same-value cosines 0.85 / 0.81 (numerals with words / months), each
  format centred on its own mean, against -0.08 for different values; a
  probe fitted on numerals reads words and months at 72% / 59% (a
  shuffled-label probe 6% / 5%); patching the numerals' 6 value directions
  into words and months prompts makes 100% of them answer the numeral's
  successor; an edit fitted on numerals alone moves 100% / 91% of them to
  the predecessor; one real step between numerals moves 85% / 91% to "+2".

Measured on toy-seq-separate, the same way: the same anatomy (MLP 0 leaves
17-24%; heads 1.0 and 1.1 carry the last member, OV successor scores
100%; all three circuits are heads 1.0, 1.1 and MLPs 0-2, knocked out
1-7% against 35-41% for random sets), and no shared value code:
same-value cosines 0.08 / 0.03, the numerals' probe reads words and months
at 10% / 4%, the subspace patch, the numerals-only edit and the step move
0% / 0%, 0% / 0% and 14% / 0% of them.

Variants tried for toy-seq (4 layers x 4 heads, ``p_mixed`` 0.5, 1,000
steps unless said), measured with lesson 04's own functions (numerals into
number words / months: probe before the carriers' block, value-subspace
patching, steering, numerals-only edit):

- seed 0 (shipped): probe 72% / 59%, patching 100% / 100%, steering 85% /
  91%, edit 100% / 91%; the circuits differ; head 1.3 costs 70-79%.
- seeds 1, 2 and 3: probe 69-83%, patching 98-100%, steering 88-100%, edit
  99-100%: the value code is as shared as seed 0's. But the three circuits
  come out identical (heads 1.1 and 1.3 with MLPs 0-2 for every task), and
  the single costliest head costs 20-37% (seeds 1, 2; 1.3) or is the
  first-member head 1.1 (seed 3). So the sharing does not depend on the
  seed; the difference between the circuits does, and seed 0 was kept.
- 1,500 steps, seed 0: probe 65% / 66%, patching, steering and edit 100%;
  circuits differ; head 1.3 costs 67-77%; training takes half as long
  again for nothing the lesson needs.
- toy-seq-separate's own history (2 heads per layer; see git history of
  this module): 3 layers x 2 heads, 5 layers x 1 head, other seeds and
  uniform layers 0 and 2 all either split the mover's work or left
  random knockouts too close to the circuit's.
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
SUCCESSOR_HEAD: tuple[int, int] = (1, 3)
CIRCUITS: dict[str, str] = {
    "numerals": "heads 1.3, 2.1, 2.2, 2.3; MLPs 0, 1, 2",
    "number_words": "heads 1.3, 2.1, 2.2, 2.3; MLPs 0, 1, 3",
    "months": "heads 1.3; MLPs 0, 1, 2",
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
