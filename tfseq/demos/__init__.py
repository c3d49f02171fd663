"""The demos: one folder per application (model, task, presets, command), built on the library.

Each demo is its own room: ``lm`` (word/character language models), ``translate`` (attention
encoder-decoder), ``regress`` (linear regression). A demo imports the library and the shared
command frame (:mod:`tfseq.demos.frame`), never another demo.
"""
