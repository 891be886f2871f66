"""Browser assets the report and the decks inline: pinned npm tarballs, fetched once into the cache.

A report or deck must open offline, so every script it needs is inside the file. Two come from npm:
reveal.js (the decks) and plotly.js's *cartesian* bundle (every figure). The cartesian bundle holds
the trace types the workbench draws (scatter, bar, heatmap, box, histogram, contour, image, pie,
violin) in 1.5 MB instead of the full bundle's 4.8 MB, which keeps a report of a fleet of series under
2 MB (deflated in the page: 0.6 MB instead of 1.8 MB). It is used only when its version is the one the
installed plotly package draws for (`plotly.offline.get_plotlyjs_version()`), so figures never meet a
plotly.js they were not made for; otherwise, or where it cannot be had (offline, no cached copy), the
full bundle of the plotly package is inlined and the page is larger, never broken.

Each tarball is pinned by version and sha256, read from `$ENV` (a local copy of the .tgz) or fetched
from the npm registry into the workbench cache once (`pooch`); a copy with another hash is refused.
"""

from __future__ import annotations

import functools
import os
import tarfile
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = [
    "PLOTLY_CARTESIAN_SHA256",
    "PLOTLY_CARTESIAN_URL",
    "PLOTLY_CARTESIAN_VERSION",
    "PLOTLY_ENV",
    "AssetUnavailableError",
    "pinned_tarball",
    "plotly_js",
]

PLOTLY_CARTESIAN_VERSION = "4.1.1"
PLOTLY_CARTESIAN_URL = (
    "https://registry.npmjs.org/plotly.js-cartesian-dist-min/-/"
    f"plotly.js-cartesian-dist-min-{PLOTLY_CARTESIAN_VERSION}.tgz"
)
PLOTLY_CARTESIAN_SHA256 = "c5f9a84666b97e571a04de689e09319869e60900e265c89eac2f71d0b5a0de88"
PLOTLY_ENV = "WORKBENCH_PLOTLY_JS"
_CARTESIAN_MEMBER = "package/plotly-cartesian.min.js"


class AssetUnavailableError(WorkbenchError):
    """A pinned asset is neither at its environment variable's path, nor cached, nor downloadable."""


def pinned_tarball(name: str, url: str, sha256: str, env: str, folder: str) -> Path:
    """The npm tarball of `name`: the file `$env` names (checked against `sha256`), else the cached
    or freshly fetched copy under the workbench cache's `folder`.

    Parameters
    ----------
    name
        What it is, for messages (`reveal.js 5.2.1`).
    url, sha256
        Where the registry serves it, and the hash it must have.
    env
        The environment variable that may name a local copy of the .tgz.
    folder
        The cache subfolder it is kept in.
    """
    from workbench.storage import sha256_file

    local = os.environ.get(env)
    if local:
        path = Path(local)
        if not path.is_file():
            raise AssetUnavailableError(f"{env}={local}: no such file (the {name} npm tarball)")
        digest = sha256_file(path)
        if digest != sha256:
            raise AssetUnavailableError(f"{env}={local}: sha256 {digest} is not {name}'s {sha256}")
        return path
    import pooch

    from workbench.config import cache_dir

    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", path=cache_dir() / folder, progressbar=False))
    except Exception as exc:  # any download failure means the same thing here
        raise AssetUnavailableError(
            f"{name} is not in the cache and could not be fetched from {url} ({exc}); "
            f"download it elsewhere and point {env} at the .tgz"
        ) from exc


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js source to inline: the cartesian bundle of the installed plotly's plotly.js version
    where it can be had, else the plotly package's full bundle (see the module docstring)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if get_plotlyjs_version() == PLOTLY_CARTESIAN_VERSION:
        try:
            tarball = pinned_tarball(
                f"plotly.js cartesian {PLOTLY_CARTESIAN_VERSION}",
                PLOTLY_CARTESIAN_URL,
                PLOTLY_CARTESIAN_SHA256,
                PLOTLY_ENV,
                "plotly.js",
            )
            with tarfile.open(tarball, "r:gz") as tar:
                member = tar.extractfile(_CARTESIAN_MEMBER)
                if member is not None:
                    return member.read().decode("utf-8")
        except (AssetUnavailableError, tarfile.TarError, KeyError):
            pass
    return get_plotlyjs()
