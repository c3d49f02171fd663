"""TF Addons' module name ``tfa.seq2seq.beam_search_decoder``: the beam-search names, so that
``from tfseq.seq2seq import beam_search_decoder`` works as it did with TF Addons.

The code lives in :mod:`tfseq.seq2seq.beam_search` (the decoder) and
:mod:`tfseq.seq2seq.beam_search_ops` (the math).
"""

from tfseq.seq2seq.beam_search import (
    BeamSearchDecoder,
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
)
from tfseq.seq2seq.beam_search_ops import gather_tree, gather_tree_from_array, tile_batch

__all__ = [
    "BeamSearchDecoder",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
    "FinalBeamSearchDecoderOutput",
    "gather_tree",
    "gather_tree_from_array",
    "tile_batch",
]
