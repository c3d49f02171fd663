"""TF1's ``contrib.seq2seq`` / TF Addons' ``tfa.seq2seq`` as Keras 3 layers: ``from tfseq import seq2seq``."""

# -- attention (tfseq/seq2seq/attention.py, attention_wrapper.py) -----------------
from tfseq.seq2seq.attention import (
    AttentionMechanism,
    BahdanauAttention,
    LuongAttention,
    bahdanau_score,
    hardmax,
    luong_score,
    mask_score,
)
from tfseq.seq2seq.attention_wrapper import (
    AttentionWrapper,
    AttentionWrapperState,
    compute_attention,
    default_cell_input_fn,
)

__all__ = [
    "AttentionMechanism",
    "LuongAttention",
    "BahdanauAttention",
    "luong_score",
    "bahdanau_score",
    "mask_score",
    "hardmax",
    "AttentionWrapper",
    "AttentionWrapperState",
    "compute_attention",
    "default_cell_input_fn",
]

# -- decoding (A2: decoder.py, basic_decoder.py, sampler.py, beam_search.py, loss.py) --
# Add the decoding imports below this line, and their names with `__all__ += [...]`.
from tfseq.seq2seq.basic_decoder import BasicDecoder, BasicDecoderOutput  # noqa: E402
from tfseq.seq2seq.beam_search import (  # noqa: E402
    BeamSearchDecoder,
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
)
from tfseq.seq2seq.beam_search_ops import gather_tree, gather_tree_from_array, tile_batch  # noqa: E402
from tfseq.seq2seq.decoder import BaseDecoder, Decoder, dynamic_decode  # noqa: E402
from tfseq.seq2seq.helper import (  # noqa: E402
    GreedyEmbeddingHelper,
    SampleEmbeddingHelper,
    ScheduledEmbeddingTrainingHelper,
    TrainingHelper,
)
from tfseq.seq2seq.loss import SequenceLoss, sequence_loss  # noqa: E402
from tfseq.seq2seq.sampler import (  # noqa: E402
    GreedyEmbeddingSampler,
    SampleEmbeddingSampler,
    Sampler,
    ScheduledEmbeddingTrainingSampler,
    TrainingSampler,
)

__all__ += [
    "Decoder",
    "BaseDecoder",
    "dynamic_decode",
    "BasicDecoder",
    "BasicDecoderOutput",
    "Sampler",
    "TrainingSampler",
    "ScheduledEmbeddingTrainingSampler",
    "GreedyEmbeddingSampler",
    "SampleEmbeddingSampler",
    "TrainingHelper",
    "ScheduledEmbeddingTrainingHelper",
    "GreedyEmbeddingHelper",
    "SampleEmbeddingHelper",
    "BeamSearchDecoder",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
    "FinalBeamSearchDecoderOutput",
    "tile_batch",
    "gather_tree",
    "gather_tree_from_array",
    "sequence_loss",
    "SequenceLoss",
]
