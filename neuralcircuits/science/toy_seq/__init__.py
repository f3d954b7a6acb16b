"""toy-seq: the course's own small transformer for sequence continuation.

Lesson 03 studies how a model continues "Van was done in 1. Hat was done in
2. ... Sun was done in" -> " 5" (Lan, Torr & Barez 2023). GPT-2 small cannot
be downloaded everywhere, so the course ships this model, trained on data we
wrote, so the lesson can check what it finds against ground truth.

Architecture (``train.default_model_config``): a TransformerLens native
model (``TransformerBridge.boot_native``), 2 layers, 4 heads of d_head 16,
d_model 64, GELU MLPs of 256 neurons, LayerNorm, learned positions, n_ctx 48;
a word-level vocabulary of 174 tokens (``<bos> <pad> <unk>``, "was", "in",
".", the three verbs, the 36 members, 69 nouns, 60 first names). 125k
parameters; model.safetensors is 0.5 MB.

Training (``train.TrainConfig``; ``make toy-model`` reproduces the shipped
weights bit for bit from seed 0): 600 AdamW steps of 128 stories, all three
tasks and all three templates mixed, cross-entropy on the answer only.
Stories show 3 to 6 members, so the last member is not always at the same
place; 30% of them show random members, and the target is always the
successor of the last member shown. (first word, last word) pairs with
``held_out`` true never appear in training. A small group-lasso penalty
(0.01 x the summed mean norm of each head's output) switches off heads the
task does not need, which leaves a crisp circuit. About 70 s on this 2-core
CPU (one torch thread; 90 s with start-up and the final measurement).

Measured on the shipped weights, held-out word pairs, 150 prompts per task
over the three templates (tests/test_toy_seq.py re-checks these):

- clean top-1 accuracy 100% on every task; the paper's filter (top-1 right,
  p(correct) > 2 p(incorrect)) keeps 100%; logit difference (correct minus
  the fourth member) 11.8 numerals, 12.5 number words, 12.2 months.
- corrupted prompts ("... in 3. Desk was done in 3. Sun was done in"): top-1
  is the successor of the last member (" 4") on 100% of prompts of every
  task, so the logit difference flips to -11.5 / -12.7 / -12.0, as GPT-2's
  does in the paper. Trained without the random-member stories
  (``p_random=0``, and without the head penalty) it does so on only
  88% / 64% / 88%: the behaviour comes from those stories.
- mean ablation (means over the matching random-member prompts, per template
  and position; logit difference left, in % of the clean one; single
  components from ``train.ablation_table``, 96 prompts per template; the
  pairs and groups from 150 prompts per task, as in the tests):

  ==========  ======  ======  ======
  ablated     num.    words   months
  ==========  ======  ======  ======
  head 0.3     28%     31%     38%
  head 0.0     94%     90%     95%
  0.0 + 0.3     3%     -4%      8%
  0.1 or 0.2  100%    100%    100%
  layer 1     100%    100%    100%
  MLP 0        24%     16%     29%
  MLP 1        68%     59%     60%
  ==========  ======  ======  ======

  "layer 1" is each of its heads and all four together; mean-ablating all
  six heads other than 0.0 and 0.3 at once leaves 100% on every task.

So the circuit is the same for all three tasks: head 0.3 attends from the
final "in" to the last member (95% of its attention, the role of GPT-2's
head 9.1), head 0.0 spreads its attention over recent tokens (23% on the
last member, like GPT-2's 7.11), and the two MLPs turn the member into its
successor. Layer 1's heads are unused. ``KEY_HEADS`` records (0.0, 0.3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from neuralcircuits.science import sequences

TOY_DIR = Path(__file__).resolve().parent
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

BOS, PAD, UNK = "<bos>", "<pad>", "<unk>"

# The heads whose mean ablation destroys the behaviour on every task (measured
# on the shipped weights; see the module docstring). Ground truth for lesson 03.
KEY_HEADS: tuple[tuple[int, int], ...] = ((0, 0), (0, 3))


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


def read_config(directory: Path | str = TOY_DIR) -> dict:
    """The shipped config.json: ``{"model": {...}, "training": {...}}``."""
    path = Path(directory) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"toy-seq config {path} is missing; rebuild it with `make toy-model`."
        )
    return json.loads(path.read_text())


def build_model(model_cfg: dict, tokenizer: Any, seed: int | None = None) -> Any:
    """A toy-seq-shaped TransformerBridge (``boot_native``), randomly initialised."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(**model_cfg, seed=seed)
    return TransformerBridge.boot_native(cfg, tokenizer=tokenizer, model_name="toy-seq")


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


def to_bridge(net: torch.nn.Module, model_cfg: dict, tokenizer: Any) -> Any:
    """A boot_native TransformerBridge carrying the weights of ``net``, in eval mode."""
    model = build_model(model_cfg, tokenizer, seed=0)
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


def load(directory: Path | str = TOY_DIR) -> Any:
    """The trained toy-seq model (a TransformerBridge) in eval mode, offline."""
    directory = Path(directory)
    cfg = read_config(directory)
    tok = load_tokenizer(directory)
    model = build_model(cfg["model"], tok, seed=0)
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
