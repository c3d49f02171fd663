"""TF1's ``contrib.seq2seq`` / TF Addons' ``tfa.seq2seq`` as Keras 3 layers: ``from tfseq import seq2seq``.

Every public name of ``tfa.seq2seq`` 0.23 and TF1's ``*Helper`` spellings; the modules keep
TF Addons' names too (``attention_wrapper``, ``basic_decoder``, ``beam_search_decoder``,
``decoder``, ``loss``, ``sampler``).
"""

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
from tfseq.seq2seq.basic_decoder import BasicDecoder, BasicDecoderOutput
from tfseq.seq2seq.beam_search import (
    BeamSearchDecoder,
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
)
from tfseq.seq2seq.beam_search_ops import gather_tree, gather_tree_from_array, tile_batch
from tfseq.seq2seq.decoder import BaseDecoder, Decoder, dynamic_decode
from tfseq.seq2seq.helper import (
    CustomHelper,
    GreedyEmbeddingHelper,
    Helper,
    InferenceHelper,
    SampleEmbeddingHelper,
    ScheduledEmbeddingTrainingHelper,
    ScheduledOutputTrainingHelper,
    TrainingHelper,
)
from tfseq.seq2seq.loss import SequenceLoss, sequence_loss
from tfseq.seq2seq.monotonic_attention import (
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
    monotonic_attention,
    safe_cumprod,
)
from tfseq.seq2seq.sampler import (
    CustomSampler,
    GreedyEmbeddingSampler,
    InferenceSampler,
    SampleEmbeddingSampler,
    Sampler,
    ScheduledEmbeddingTrainingSampler,
    ScheduledOutputTrainingSampler,
    TrainingSampler,
)

__all__ = [
    # attention
    "AttentionMechanism",
    "LuongAttention",
    "BahdanauAttention",
    "LuongMonotonicAttention",
    "BahdanauMonotonicAttention",
    "luong_score",
    "bahdanau_score",
    "mask_score",
    "hardmax",
    "monotonic_attention",
    "safe_cumprod",
    "AttentionWrapper",
    "AttentionWrapperState",
    "compute_attention",
    "default_cell_input_fn",
    # decoding
    "Decoder",
    "BaseDecoder",
    "dynamic_decode",
    "BasicDecoder",
    "BasicDecoderOutput",
    "Sampler",
    "CustomSampler",
    "TrainingSampler",
    "ScheduledEmbeddingTrainingSampler",
    "ScheduledOutputTrainingSampler",
    "GreedyEmbeddingSampler",
    "SampleEmbeddingSampler",
    "InferenceSampler",
    "TrainingHelper",
    "ScheduledEmbeddingTrainingHelper",
    "ScheduledOutputTrainingHelper",
    "GreedyEmbeddingHelper",
    "SampleEmbeddingHelper",
    "InferenceHelper",
    "CustomHelper",
    "Helper",
    "BeamSearchDecoder",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
    "FinalBeamSearchDecoderOutput",
    "tile_batch",
    "gather_tree",
    "gather_tree_from_array",
    # loss
    "sequence_loss",
    "SequenceLoss",
]
