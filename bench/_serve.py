"""Run the platform for a benchmark: ``python bench/_serve.py pulse,bench`` (scenes to load).

Writes an ingest+read token to DATA/bench.token. The ``bench`` scene is the benchmark's own
threshold rule (see _bench_scene.py); installed scenes are found through their entry points.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.core.tokens import create_token


def main() -> None:
    wanted = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else {"pulse"}
    scenes = discover(wanted - {"bench"})
    if "bench" in wanted:
        from _bench_scene import scene

        scenes["bench"] = scene
    settings = load_settings()
    platform = Platform(settings, scenes=scenes)
    _, secret = create_token(platform.store, "bench", ["ingest", "read"])
    (settings.data_path / "bench.token").write_text(secret)
    uvicorn.run(
        create_app(settings, platform), host="127.0.0.1", port=settings.server.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
