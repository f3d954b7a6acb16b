"""Expensive results kept on disk, keyed by model weights, data and code version.

``cached(kind, model, data, args, compute)`` returns ``compute()``'s result,
stored in a file whose name is a hash of everything the result depends on:

- the model: every parameter and buffer (name, shape, dtype and bytes), so an
  edited weight is a different model (hashes are remembered per tensor and
  its in-place version counter, so a second call costs nothing);
- the data: tensors, numbers and strings, nested in lists, tuples and dicts;
- ``args``: the call's other arguments;
- the code: the source of every module of ``neuralcircuits.science``, so a
  change to the science can never be answered from an old result.

A changed model, data set, argument or science module is a different file, so
a stale result is never read. The folder is found without the course's
tooling: ``$NEURALCIRCUITS_CACHE`` if set ("off" disables the cache), else
``build/cache`` of the source checkout this package runs from, else
``~/.cache/neuralcircuits``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")
_SCIENCE = Path(__file__).resolve().parent
_code_version: str | None = None
_tensor_digests: dict[int, tuple[Any, tuple, str]] = {}


def cache_dir() -> Path | None:
    """Where results are kept (None: the cache is off)."""
    env = os.environ.get("NEURALCIRCUITS_CACHE")
    if env is not None:
        return (
            None
            if env.strip().lower() in ("", "0", "off", "no", "false")
            else Path(env)
        )
    repo = _SCIENCE.parents[1]
    if (repo / "pyproject.toml").exists():
        return repo / "build" / "cache"
    return Path.home() / ".cache" / "neuralcircuits"


def code_version() -> str:
    """Hash of the source of every module of neuralcircuits.science."""
    global _code_version
    if _code_version is None:
        h = hashlib.blake2b(digest_size=16)
        for path in sorted(_SCIENCE.rglob("*.py")):
            h.update(str(path.relative_to(_SCIENCE)).encode())
            h.update(path.read_bytes())
        _code_version = h.hexdigest()
    return _code_version


def tensor_digest(t: torch.Tensor) -> str:
    """Hash of a tensor's shape, dtype and values (remembered until it is modified in place)."""
    stamp = (t.data_ptr(), t._version, tuple(t.shape), str(t.dtype), tuple(t.stride()))
    known = _tensor_digests.get(id(t))
    if known is not None and known[0]() is t and known[1] == stamp:
        return known[2]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{tuple(t.shape)}{t.dtype}".encode())
    c = t.detach().cpu().contiguous()
    if c.numel():
        h.update(c.view(-1).view(torch.uint8).numpy().data)
    digest = h.hexdigest()
    if t.numel() >= 4096:  # remember big tensors (the model's weights)
        _tensor_digests[id(t)] = (weakref.ref(t), stamp, digest)
    return digest


def model_key(model: Any) -> str:
    """Hash of every named parameter and buffer of the model."""
    h = hashlib.blake2b(digest_size=16)
    h.update(type(model).__name__.encode())
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(tensor_digest(t).encode())
    return h.hexdigest()


def data_key(obj: Any) -> str:
    """Hash of tensors, numbers, strings and None, nested in lists, tuples and dicts."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, obj)
    return h.hexdigest()


def _feed(h, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        h.update(b"T" + tensor_digest(obj).encode())
    elif isinstance(obj, dict):
        h.update(b"D%d" % len(obj))
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
    elif isinstance(obj, list | tuple):
        h.update(b"L%d" % len(obj))
        for x in obj:
            _feed(h, x)
    elif obj is None or isinstance(obj, str | int | float | bool):
        h.update(f"{type(obj).__name__}:{obj!r}".encode())
    else:
        raise TypeError(f"cannot key a cache on a {type(obj).__name__}")


def key(kind: str, model: Any, data: Any, args: Any) -> str:
    """The file name of a result: its kind and a hash of model, data, args and code."""
    h = hashlib.blake2b(digest_size=20)
    for part in (
        kind,
        model_key(model),
        data_key(data),
        data_key(args),
        code_version(),
    ):
        h.update(part.encode())
    return f"{kind}-{h.hexdigest()}"


_REMEMBERED: dict[tuple, Any] = {}
REMEMBERED_RESULTS = 32  # results kept in memory by ``remembered``, the least recently used dropped first


def remembered(kind: str, model: Any, data: Any, compute: Callable[[], T]) -> T:
    """``compute()``, kept in memory for this model's weights and this data.

    For activations several analyses of one lesson read from the same
    prompts: the second asks costs nothing. An edited weight or other data is
    a different key, as on disk.
    """
    key = (kind, id(model), model_key(model), data_key(data))
    if key in _REMEMBERED:
        _REMEMBERED[key] = _REMEMBERED.pop(key)  # the most recently used goes last
    else:
        if len(_REMEMBERED) >= REMEMBERED_RESULTS:
            _REMEMBERED.pop(next(iter(_REMEMBERED)))
        _REMEMBERED[key] = compute()
    return _REMEMBERED[key]


def cached(
    kind: str,
    model: Any,
    data: Any,
    args: Any,
    compute: Callable[[], T],
    folder: Path | str | None = None,
) -> T:
    """``compute()``, or its result stored by an earlier call with the same model, data, args and code."""
    folder = Path(folder) if folder is not None else cache_dir()
    if folder is None:
        return compute()
    path = folder / f"{key(kind, model, data, args)}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass  # a damaged file: compute again
    result = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=folder, delete=False, suffix=".tmp"
        ) as tmp:
            pickle.dump(result, tmp)
        os.replace(tmp.name, path)
    except OSError:
        pass  # a read-only place: the result is still returned
    return result
