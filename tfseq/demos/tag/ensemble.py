"""An ensemble of joint slot taggers, trained side by side in one run and decoded together.

``TaggerEnsemble(k, member_kwargs)`` holds ``k`` :class:`~tfseq.demos.tag.model.SlotIntentModel`
of one configuration. Each member has its own initial weights and its own dropout seed; all
of them read the same batches (the same order and word dropout). Training minimises the sum
of the members' joint losses, so each member's gradient is that of its own loss, and without
gradient clipping each member trains as it would alone (a test checks it bit for bit); the
logged loss is the members' mean. Gradient clipping (the Trainer's ``max_grad_norm``) clips
the global norm of all members' gradients together: with ``k`` members of similar gradient
norms, clipping starts at about ``1 / sqrt(k)`` of the norm it would start at for one.

Prediction combines the members before decoding::

    u_t     = (1 / k) sum_m slot_logits^m_t                     # the tags' scores of word t
    A       = (1 / k) sum_m A^m                                  # with a CRF: the transitions
    tags    = viterbi(u, A)  (argmax_y u_t(y) per word without a CRF)
    intent  = argmax (1 / k) sum_m log softmax(intent_logits^m)

With a CRF, ``viterbi(u, A)`` is the tag sequence with the highest mean of the members' sequence
scores, the mode of the (normalised) geometric mean of their distributions; without one, each
word takes the tag of the highest mean logit. The intent is the mode of the members' geometric
mean. The members share one training step, so two of them cost less than two runs (on ATIS
8.9 CPU minutes against 2 x 4.8; the tag demo's docs have the scores).
"""

import keras
import tensorflow as tf

from tfseq._checks import check_positive_int
from tfseq.demos.tag.model import SlotIntentModel, decode_ids, model_inputs

MEMBER_SEED_STRIDE = 1000  # member m's dropout seed is seed + m * MEMBER_SEED_STRIDE


@keras.saving.register_keras_serializable(package="tfseq")
class TaggerEnsemble(keras.Model):
    """``size`` slot taggers of one configuration, trained together and decoded together.

    Args:
        size: int > 1, the number of members.
        member_kwargs: the :class:`~tfseq.demos.tag.model.SlotIntentModel` arguments every
            member shares (all but ``seed``, ``dtype`` and ``name``).
        seed: int seed; member ``m`` drops out with ``seed + m * MEMBER_SEED_STRIDE``.
        dtype: Keras' ``dtype`` (policy) of every member.

    Call arguments and result: as :class:`~tfseq.demos.tag.model.SlotIntentModel`'s, with the
    members' mean slot logits and mean intent log-probabilities (the scores :meth:`predict_ids`
    decodes, without the CRF's transitions).
    """

    def __init__(self, size: int, member_kwargs: dict, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_positive_int("TaggerEnsemble", "size", size)
        if self.size < 2:
            raise ValueError(f"TaggerEnsemble: size must be at least 2 (one tagger needs no ensemble), got {size!r}")
        for key in ("seed", "dtype", "name"):
            if key in member_kwargs:
                raise ValueError(f"TaggerEnsemble: member_kwargs must not set {key!r} (the ensemble sets it)")
        self.member_kwargs, self.seed = dict(member_kwargs), seed
        base = 0 if seed is None else int(seed)
        self.taggers = [SlotIntentModel(**self.member_kwargs, seed=base + m * MEMBER_SEED_STRIDE,
                                        dtype=self.dtype_policy, name=f"member_{m}") for m in range(self.size)]
        first = self.taggers[0]
        self.num_tags, self.num_intents, self.crf = first.num_tags, first.num_intents, first.crf
        self.blocked_tags, self.blocked_intents = first.blocked_tags, first.blocked_intents

    def members(self) -> tuple:
        """The member taggers, whose losses are trained."""
        return tuple(self.taggers)

    @property
    def transitions(self):
        """The members' mean CRF transitions ``[num_tags, num_tags]``, or ``None`` without a CRF."""
        if not self.crf:
            return None
        return tf.add_n([tf.convert_to_tensor(t.transitions) for t in self.taggers]) / self.size

    def build(self, input_shape=None):
        if self.built:
            return
        for tagger in self.taggers:
            tagger.build()
        self.built = True

    def call(self, inputs, training=False):
        outputs = [tagger(inputs, training=training) for tagger in self.taggers]
        slot_logits = tf.add_n([slot for slot, _ in outputs]) / self.size
        intent = tf.add_n([tf.nn.log_softmax(intent) for _, intent in outputs]) / self.size
        return slot_logits, intent

    def predict_ids(self, words, length, chars=None):
        """``(tag ids [batch, T], intent ids [batch])`` of the combined members (module docstring)."""
        slot_logits, intent = self(model_inputs(words, length, chars), training=False)
        return decode_ids(slot_logits, intent, length, self.transitions, self.blocked_tags, self.blocked_intents)

    def get_config(self):
        member_kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in self.member_kwargs.items()}
        return {**super().get_config(), "size": self.size, "member_kwargs": member_kwargs, "seed": self.seed}
