"""citybrain: an open-source City Brain."""

__version__ = "0.1.0"
