"""gptme-trio: a terminal agent for reading the web, on Trio structured concurrency."""

__version__ = "0.1.0"
