"""A scale-out worker for the failure tests: the pulse scene on the settings in the environment,
processing until it is killed (SIGKILL in the tests; SIGTERM stops it cleanly)."""

from __future__ import annotations

import logging
import signal
import threading

from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s worker %(levelname)s %(name)s: %(message)s"
    )
    p = Platform(load_settings(), scenes={"pulse": discover({"pulse"})["pulse"]})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    p.start()
    done.wait()
    p.stop()


if __name__ == "__main__":
    main()
