"""A lesson opened and saved through a real Jupyter server (the contents API the
Lab uses, with the jupytext extension the Lab loads) stays unedited."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from neuralcircuits.tooling.lessongen import has_local_edits, same_cells, sync_lesson
from neuralcircuits.tooling.paths import SOLUTIONS

pytest.importorskip("jupyter_server")
pytest.importorskip("jupyterlab_jupytext")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, token: str, data: dict | None = None) -> dict:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(
        url,
        data=body,
        method="GET" if data is None else "PUT",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def server(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                _request(f"{base}/api/contents", token)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Jupyter server did not start")
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_open_and_save_through_the_contents_api_leaves_a_lesson_unedited(
    server, tmp_path
):
    base, token = server
    solution = sorted(SOLUTIONS.glob("02_*.py"))[0]
    lessons = tmp_path / "lessons"
    sync_lesson(solution, lessons, backups=tmp_path / "backups")
    lesson = lessons / solution.name
    generated = lesson.read_text()
    url = f"{base}/api/contents/lessons/{solution.name}"

    model = _request(f"{url}?type=notebook&content=1", token)
    notebook = model["content"]
    # What the Lab does before it saves: it records the kernel it runs.
    notebook["metadata"]["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook["metadata"]["language_info"] = {"name": "python", "version": "3.11"}
    for _ in range(2):  # a save, then an autosave
        _request(
            url, token, {"type": "notebook", "format": "json", "content": notebook}
        )

    saved = lesson.read_text()
    assert same_cells(saved, generated) and not has_local_edits(saved)
    assert sync_lesson(solution, lessons, check=True).action == "unchanged"

    # A real edit to a cell, saved the same way, is still the learner's.
    cell = next(c for c in notebook["cells"] if "NotImplementedError" in c["source"])
    cell["source"] = cell["source"].replace(
        "raise NotImplementedError(", "return (  # ("
    )
    _request(url, token, {"type": "notebook", "format": "json", "content": notebook})
    edited = lesson.read_text()
    assert has_local_edits(edited)
    assert sync_lesson(solution, lessons, backups=tmp_path / "backups").action == "kept"
    assert lesson.read_text() == edited
