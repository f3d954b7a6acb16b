"""A learner's JupyterLab without the teacher's nbgrader tools.

nbgrader (installed for ``make assignments``) adds to every JupyterLab a menu,
a "Create Assignment" panel, assignment and course lists and the formgrader's
pages: tools for the teacher, in a learner's way. ``python -m
neuralcircuits.tooling.lab DIR`` writes, into the Jupyter config folder DIR,
the settings that turn them off: nbgrader's Lab extension disabled
(``labconfig/page_config.json``) and its server extensions off
(``jupyter_server_config.json``); settings already there are kept.

``make lab`` puts such a folder first on ``JUPYTER_CONFIG_PATH`` (the
learner's Lab); ``postBuild`` writes them into the Binder image's own config
folder (a learner's image); ``make lab-teacher`` starts Lab without them, on
the nbgrader course ``make assignments`` writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
NBGRADER_SERVER_EXTENSIONS = [
    f"nbgrader.server_extensions.{name}"
    for name in ("formgrader", "validate_assignment", "assignment_list", "course_list")
]


def _merge(data: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _merge(data[key], value)
        else:
            data[key] = value
    return data


def _merge_into(path: Path, change: dict[str, Any]) -> None:
    """Merge ``change`` into the JSON file at ``path`` (created if missing)."""
    data = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_merge(data, change), indent=2) + "\n")


def write_learner_config(config_dir: Path) -> list[Path]:
    """Turn nbgrader's Lab and server extensions off in a Jupyter config folder; return the files."""
    page = config_dir / "labconfig" / "page_config.json"
    _merge_into(page, {"disabledExtensions": {NBGRADER_LAB_EXTENSION: True}})
    server = config_dir / "jupyter_server_config.json"
    off = dict.fromkeys(NBGRADER_SERVER_EXTENSIONS, False)
    _merge_into(server, {"ServerApp": {"jpserver_extensions": off}})
    return [page, server]


def main(argv: list[str] | None = None) -> int:
    """Write the learner's settings into the config folder given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config_dir", type=Path, help="a Jupyter config folder")
    args = parser.parse_args(argv)
    write_learner_config(args.config_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
