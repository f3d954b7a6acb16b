"""``make lab`` in a real browser: a lesson opens as a notebook, runs, and its widgets work.

The test starts JupyterLab with ``make lab`` (on 127.0.0.1, a free port, a
token, no browser of its own) over a copy of lessons/ (so running it cannot
touch the repository), opens lesson 02's ``.py`` file in headless Chromium,
runs every cell, and checks what a learner sees: the file opened as a
notebook, the explorer's sliders render (not "Error displaying widget") and
redraw when a slider moves, and each check cell of an unfinished exercise
shows one red line, never a traceback. A learner's Lab has no nbgrader (no
menu, no "Create Assignment" panel, no formgrader); ``make lab-teacher`` has
them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import chromium, console_errors, needs_browser

from neuralcircuits.tooling.paths import BUILD, LESSONS, REPO

LESSON = "02_hand_built_relu_circuits"
SCREENSHOTS = BUILD / "screenshots" / "lab"

pytestmark = [pytest.mark.notebook, needs_browser]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def lab(tmp_path: Path):
    """`make lab` over a copy of lessons/; yields (base URL, token, server process)."""
    root = tmp_path / "course"
    (root / "lessons").mkdir(parents=True)
    shutil.copy2(LESSONS / f"{LESSON}.py", root / "lessons")
    yield from _make_lab(tmp_path, "lab", f"LAB_ROOT={root}")


@pytest.fixture()
def teacher_lab(tmp_path: Path):
    """`make lab-teacher` over an empty nbgrader course; yields (base URL, token, process)."""
    course = tmp_path / "assignments"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n")
    yield from _make_lab(tmp_path, "lab-teacher", f"TEACHER_ROOT={course}")


def _make_lab(tmp_path: Path, target: str, *variables: str):
    """Start `make <target>` on a free port with a token; yield (base URL, token, process)."""
    port, token = _free_port(), secrets.token_hex(16)
    venv = Path(sys.prefix)
    args = (
        f"--no-browser --port={port} --IdentityProvider.token={token} "
        "--LabApp.expose_app_in_browser=True --ServerApp.disable_check_xsrf=False"
    )
    command = [
        "make",
        "-s",
        "-C",
        str(REPO),
        f"VENV={venv}",
        "-o",
        str(venv / ".installed"),
        target,
        *variables,
        f"LAB_ARGS={args}",
    ]
    # A settings folder of its own: every cell in the page (no windowing, so
    # the test sees them all) and no news prompt; the user's settings untouched.
    settings = tmp_path / "lab-settings"
    for plugin, values in {
        "notebook-extension/tracker": '{"windowingMode": "none"}',
        "apputils-extension/notification": '{"fetchNews": "false"}',
    }.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(values)
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
    }
    log = (tmp_path / "lab.log").open("w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(
                    f"{base}/api/status?token={token}", timeout=2
                ):
                    break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(
                        f"make {target} exited:\n"
                        + (tmp_path / "lab.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start in 60 s")
        yield base, token, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _memory(process: subprocess.Popen) -> dict[str, int]:
    """Resident memory (MB) of the server and the kernel `make lab` started."""
    import psutil

    found = {}
    for child in psutil.Process(process.pid).children(recursive=True):
        line = " ".join(child.cmdline())
        kind = (
            "kernel" if "ipykernel" in line else "server" if "jupyter" in line else None
        )
        if kind:
            found[kind] = found.get(kind, 0) + child.memory_info().rss // 2**20
    return found


def _wait(driver, script: str, timeout: float, what: str, *args):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.5)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "failure.png"))
    pytest.fail(
        f"timed out waiting for {what} (screenshot: build/screenshots/lab/failure.png)"
    )


# What nbgrader adds to Lab: its plugins, its main-menu entry, its side panel.
_NBGRADER_IN_LAB = """
    const app = window.jupyterapp;
    const plugins = app.listPlugins().filter(id => id.startsWith('@jupyter/nbgrader'))
        .filter(id => app.isPluginActivated(id));
    const menus = [...document.querySelectorAll('.lm-MenuBar-itemLabel')]
        .map(e => e.textContent.trim().toLowerCase());
    const panels = [...document.querySelectorAll('.lm-TabBar-tab')]
        .map(e => (e.getAttribute('title') || e.textContent || '').toLowerCase());
    return {plugins: plugins, menu: menus.includes('nbgrader'),
            panel: panels.some(t => t.includes('create assignment'))};"""


def _nbgrader(driver) -> dict:
    """Which of nbgrader's tools the Lab page shows."""
    return driver.execute_script(_NBGRADER_IN_LAB)


def test_lesson_runs_in_lab(lab):
    base, token, server = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium(1400, 1000) as driver:
        driver.get(f"{base}/lab/tree/lessons/{LESSON}.py?token={token}")
        # The .py lesson opens in the notebook editor (Jupytext), not the text editor.
        _wait(
            driver,
            "return document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > 10",
            90,
            "the lesson to open as a notebook",
        )
        assert not driver.find_elements("css selector", ".jp-FileEditor .cm-content")
        _wait(driver, "return !!window.jupyterapp", 60, "the app")
        assert _nbgrader(driver) == {"plugins": [], "menu": False, "panel": False}, (
            "a learner's Lab shows none of nbgrader's tools"
        )
        _wait(
            driver,
            "const w = window.jupyterapp.shell.currentWidget;"
            "const s = w && w.sessionContext;"
            "return s && s.session && s.session.kernel && s.session.kernel.status === 'idle'",
            90,
            "an idle kernel",
        )
        driver.execute_script(
            "window.jupyterapp.commands.execute('notebook:run-all-cells')"
        )
        # Done when every code cell has an execution count (none queued or
        # running, [*]) and the kernel is idle.
        _wait(
            driver,
            """
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            const done = prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            const s = window.jupyterapp.shell.currentWidget.sessionContext;
            return prompts.length > 10 && done && s.session.kernel.status === 'idle';""",
            420,
            "the lesson to run",
        )
        time.sleep(2)
        text = driver.execute_script(
            "return document.querySelector('.jp-Notebook').innerText"
        )
        assert "Error displaying widget" not in text
        assert "Traceback" not in text, "a check shows its sentence, not a traceback"

        # Each unfinished exercise's check: one red line naming the stub.
        n_checks = (LESSONS / f"{LESSON}.py").read_text().count('tags=["check"')
        _wait(
            driver,
            "return [...document.querySelectorAll('.jp-OutputArea-output')]"
            f".filter(o => o.innerText.includes('✘')).length >= {n_checks}",
            30,
            "every check's output",
        )
        failures = driver.execute_script("""
            return [...document.querySelectorAll(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
              .filter(o => o.innerText.includes('✘'))
              .map(o => ({text: o.innerText.trim(),
                          red: !!o.querySelector('[class*=ansi-red]')}));""")
        assert len(failures) == n_checks, failures  # every exercise is still blank
        for failure in failures:
            assert "\n" not in failure["text"] and failure["red"], failure
            assert "not written yet" in failure["text"], failure

        # The explorer: sliders rendered, and moving one redraws the figure.
        sliders = driver.find_elements("css selector", ".jp-OutputArea .widget-slider")
        assert len(sliders) >= 4, "the ReLU explorer's sliders render"
        figure = (
            "return [...document.querySelectorAll('.jp-OutputArea .widget-output img')]"
            ".map(i => i.src).join('|')"
        )
        before = _wait(driver, figure, 30, "the explorer's figure")
        handle = sliders[0].find_element("css selector", ".noUi-handle")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
        handle.click()
        from selenium.webdriver.common.keys import Keys

        for _ in range(4):
            handle.send_keys(Keys.ARROW_RIGHT)
        _wait(
            driver,
            figure.replace("return ", "return (") + ") !== arguments[0]",
            30,
            "the figure to redraw after a slider move",
            before,
        )
        driver.save_screenshot(str(SCREENSHOTS / f"{LESSON}-explorer.png"))
        print(
            "resident memory of make lab's processes after the lesson ran (MB):",
            _memory(server),
        )
        errors = [m for m in console_errors(driver) if "favicon" not in m]
        assert not errors, errors


def test_a_teachers_lab_has_nbgrader(teacher_lab):
    base, token, _ = teacher_lab
    with chromium(1400, 1000) as driver:
        driver.get(f"{base}/lab?token={token}")
        _wait(driver, "return !!window.jupyterapp", 60, "the app")
        _wait(
            driver,
            "return document.querySelectorAll('.lm-MenuBar-itemLabel').length > 5",
            60,
            "the main menu",
        )
        found = _nbgrader(driver)
        assert "@jupyter/nbgrader:menu" in found["plugins"], found
        assert found["menu"], "the teacher's Lab has nbgrader's menu"
        with urllib.request.urlopen(f"{base}/formgrader?token={token}") as page:
            assert page.status == 200  # and its formgrader
