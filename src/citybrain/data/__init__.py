"""Demo data shipped inside the package, so an installed wheel runs the demo from any directory.

``networks/`` the demo road network (OpenStreetMap, ODbL 1.0: source and licence in
``networks/SOURCE.md``, shipped beside it), ``hotspots/`` its districts and hotspots, ``plants/``
the factory scene's demo plant model.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def path(relative: str) -> Path:
    """The file-system path of a packaged data file, e.g. ``path("plants/demo.toml")``.

    The readers take paths (shapefile siblings, suffix dispatch), so the package must be installed
    as files (a wheel or an editable install are); an import from a zip archive is refused here.
    """
    resource = files(__name__).joinpath(relative)
    if not isinstance(resource, Path):
        raise RuntimeError(f"citybrain's data {relative!r} is inside an archive: install citybrain unzipped")
    return resource
