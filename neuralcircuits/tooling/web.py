"""The web assets the site and the slide decks use, installed by ``make setup``.

The site (MathJax) and the slide decks (reveal.js) must work without the
network, so their JavaScript is not loaded from a CDN: ``make setup`` fetches
pinned npm tarballs into ``<venv>/share/neuralcircuits-web/`` and this module
unpacks what a build needs from there.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

# The npm packages `make setup` packs (keep in step with WEB_PACKAGES in the Makefile).
WEB_PACKAGES = {"reveal.js": "6.0.1", "mathjax": "3.2.2"}


def web_assets_dir() -> Path:
    """The folder of the pinned npm tarballs (make setup packs them into the venv)."""
    return Path(sys.prefix) / "share" / "neuralcircuits-web"


def tarball(package: str) -> Path:
    """The packed npm tarball of `package`, or a clear error naming the fix."""
    path = web_assets_dir() / f"{package}-{WEB_PACKAGES[package]}.tgz"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make setup` (it packs {package}@"
            f"{WEB_PACKAGES[package]} from the npm registry with `npm pack`)."
        )
    return path


def extract(package: str, member: str, dest: Path) -> Path:
    """Unpack a file ("es5/tex-chtml.js") or folder ("dist/") of `package` to dest; return dest."""
    prefix = "package/" + member
    with tarfile.open(tarball(package)) as archive:
        for entry in archive.getmembers():
            if not entry.isfile() or not entry.name.startswith(prefix):
                continue
            rest = entry.name[len(prefix) :]
            target = dest / rest if rest else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(entry)
            assert source is not None
            target.write_bytes(source.read())
    return dest
