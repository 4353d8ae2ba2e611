"""Optional parts and the pip extra that installs each (``[project.optional-dependencies]``).

Their packages are imported only inside the modules of that part, and those modules only when the
part is configured; :func:`require` runs first, so a missing package is a ConfigError that names
the extra to install rather than an ImportError from deep inside.
"""

from __future__ import annotations

import importlib

from citybrain.core.errors import ConfigError

# extra -> the import names of its packages
EXTRAS: dict[str, tuple[str, ...]] = {
    "scaleout": ("nats", "psycopg"),
    "fastmm": ("fastmm",),
    "shapefile": ("shapefile",),
}


def require(extra: str, feature: str) -> None:
    """Raise ConfigError if a package of ``extra`` is missing; ``feature`` says what needs it."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(
                f"{feature} needs `pip install 'citybrain[{extra}]'` ({module} cannot be imported: {err})"
            ) from None
