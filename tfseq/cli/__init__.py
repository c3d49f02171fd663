"""Command-line entry points (``tfseq ...``); thin wrappers over the library."""
