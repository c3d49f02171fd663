"""TF Addons' Keras CRF layer (``tfa.layers.CRF``) as a Keras 3 layer over :mod:`tfseq.text.crf`.

The layer holds the CRF's weights and turns a ``[batch, T, features]`` input into the four
tensors a tagger needs: the Viterbi tags, the unary potentials (with the start/end energies
added), the lengths and the transition matrix. Training uses the last three with
:func:`tfseq.text.crf_log_likelihood` (what :class:`tfseq.text.CRFModelWrapper` does). The code
lives in ``tfseq.text`` beside the CRF math and the wrapper that needs it; TF Addons programs reach
it as ``tfa.layers.CRF`` (:mod:`tfseq.layers`).
"""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.text.crf import crf_decode

TensorLike = Any


def _rising_edges(mask: tf.Tensor) -> tf.Tensor:
    """True where ``mask`` turns on along axis 1 (``0011100 -> 0010000``)."""
    on = tf.cast(mask, tf.int32)
    before = tf.concat([tf.zeros_like(on[:, :1]), on[:, :-1]], axis=1)
    return on > before


def _falling_edges(mask: tf.Tensor) -> tf.Tensor:
    """True at the last step of each run of ``mask`` along axis 1 (``0011100 -> 0000100``)."""
    on = tf.cast(mask, tf.int32)
    after = tf.concat([on[:, 1:], tf.zeros_like(on[:, :1])], axis=1)
    return on > after


@keras.saving.register_keras_serializable(package="tfseq")
class CRF(keras.layers.Layer):
    """A linear-chain conditional random field output layer (TF Addons 0.23's ``tfa.layers.CRF``).

    ``decoded_sequence, potentials, sequence_length, chain_kernel = CRF(num_tags)(inputs)``:

    * ``potentials`` ``[batch, T, units]``: ``Dense(units)(inputs)`` (or the inputs themselves,
      cast, with ``use_kernel=False``), plus ``left_boundary`` at each sequence's first step and
      ``right_boundary`` at its last step (``use_boundary=True``);
    * ``sequence_length`` int64 ``[batch]``: the number of unmasked steps (``T`` without a mask);
    * ``chain_kernel`` ``[units, units]``: the transition potentials (tag ``i`` then tag ``j``);
    * ``decoded_sequence`` int32 ``[batch, T]``: :func:`tfseq.text.crf_decode` of the three.

    The loss is ``-crf_log_likelihood(potentials, tags, sequence_length, chain_kernel)[0]``.

    Weights, in this order: ``chain_kernel`` ``[units, units]``; ``left_boundary`` and
    ``right_boundary`` ``[units]`` (only with ``use_boundary``), all three created with the layer;
    then, with ``use_kernel``, the inner ``Dense``'s ``kernel`` ``[features, units]`` and ``bias``
    ``[units]``, created when the layer is built. This is TF Addons' order, so its
    ``get_weights()`` load here with ``set_weights``.

    Under a mixed policy (``dtype="mixed_float16"``) the layer does what TF Addons' does: the
    inputs and the boundary vectors are rounded to the compute dtype (float16), the potentials are
    computed in the variable dtype (float32), Viterbi decodes with the transitions rounded to the
    compute dtype, and the returned ``chain_kernel`` is the float32 variable's value.

    Args:
        units: the number of tags, a positive int.
        chain_initializer: initializer of ``chain_kernel`` (default ``"orthogonal"``).
        use_boundary: add the start (``left_boundary``) and end (``right_boundary``) energies.
        boundary_initializer: initializer of the boundary vectors (default ``"zeros"``).
        use_kernel: project the inputs with a ``Dense(units)``; False takes the inputs, whose
            last dimension must then be ``units``, as the potentials.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``trainable``).

    Call arguments:
        inputs: float ``[batch, T, features]``.
        mask: bool or 0/1 ``[batch, T]``, or None (Keras passes the mask of a masking layer
            before this one). Only right padding: every sequence's mask must start at step 0.
            Eagerly, a mask that does not raises ``NotImplementedError``, as in TF Addons; in a
            graph it is not checked. The mask is passed on to the next layer unchanged.

    Raises:
        ValueError: a bad constructor argument, or a mask that is not 2-D.
    """

    def __init__(
        self,
        units: int,
        chain_initializer: Any = "orthogonal",
        use_boundary: bool = True,
        boundary_initializer: Any = "zeros",
        use_kernel: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = check_positive_int("CRF", "units", units)
        self.use_boundary = check_bool("CRF", "use_boundary", use_boundary)
        self.use_kernel = check_bool("CRF", "use_kernel", use_kernel)
        self.chain_initializer = self._initializer("chain_initializer", chain_initializer)
        self.boundary_initializer = self._initializer("boundary_initializer", boundary_initializer)
        # Created here, not in build(), as TF Addons does: they exist (and come first in
        # `weights`) before the layer is called. The chain kernel is returned as a float32 value, so
        # it is not autocast (call() rounds it for decoding, as TF Addons' autocast variable was).
        self.chain_kernel = self.add_weight(
            shape=(self.units, self.units), initializer=self.chain_initializer, name="chain_kernel", autocast=False
        )
        self.left_boundary = self.right_boundary = None
        if self.use_boundary:
            self.left_boundary = self.add_weight(
                shape=(self.units,), initializer=self.boundary_initializer, name="left_boundary"
            )
            self.right_boundary = self.add_weight(
                shape=(self.units,), initializer=self.boundary_initializer, name="right_boundary"
            )
        self._dense_layer = None
        if self.use_kernel:
            self._dense_layer = keras.layers.Dense(self.units, dtype=self.variable_dtype, name="dense")

    @staticmethod
    def _initializer(name: str, value: Any) -> keras.initializers.Initializer:
        try:
            return keras.initializers.get(value)
        except ValueError as error:
            raise ValueError(f"CRF: {name} must be a Keras initializer or its name, got {value!r}") from error

    def build(self, input_shape: Any) -> None:
        if self._dense_layer is not None and not self._dense_layer.built:
            self._dense_layer.build(input_shape)
        self.built = True

    def call(self, inputs: TensorLike, mask: TensorLike | None = None) -> list[tf.Tensor]:
        """Returns ``[decoded_sequence, potentials, sequence_length, chain_kernel]`` (class docstring)."""
        if mask is not None:
            mask = tf.convert_to_tensor(mask)
            if mask.shape.rank != 2:
                raise ValueError(f"CRF: mask must be 2-D [batch, time] or None, got shape {mask.shape}")
            if tf.executing_eagerly() and not bool(tf.reduce_all(tf.cast(mask[:, 0], tf.bool))):
                raise NotImplementedError(
                    "CRF: left padding is not supported: every sequence's mask must start at step 0 "
                    "(pad on the right)"
                )
        if self._dense_layer is not None:
            potentials = self._dense_layer(inputs)
        else:
            potentials = tf.cast(inputs, self.variable_dtype)
        if self.use_boundary:
            potentials = self._add_boundary_energy(potentials, mask)
        if mask is None:
            sequence_length = tf.fill(tf.shape(potentials)[:1], tf.cast(tf.shape(potentials)[1], tf.int64))
        else:
            sequence_length = tf.reduce_sum(tf.cast(mask, tf.int64), axis=1)
        chain_kernel = tf.convert_to_tensor(self.chain_kernel)
        transitions = chain_kernel
        if self.compute_dtype != self.variable_dtype:  # a mixed policy: decode as TF Addons does
            transitions = tf.cast(tf.cast(chain_kernel, self.compute_dtype), potentials.dtype)
        decoded_sequence, _ = crf_decode(potentials, transitions, sequence_length)
        return [decoded_sequence, potentials, sequence_length, chain_kernel]

    def _add_boundary_energy(self, potentials: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
        """``left_boundary`` where the mask turns on, ``right_boundary`` where it turns off (without
        a mask: the first and the last step)."""
        start = tf.cast(self.left_boundary, potentials.dtype)
        end = tf.cast(self.right_boundary, potentials.dtype)
        if mask is None:
            steps = tf.shape(potentials)[1]
            first = tf.one_hot(0, steps, dtype=potentials.dtype)
            last = tf.one_hot(steps - 1, steps, dtype=potentials.dtype)
            return potentials + first[None, :, None] * start + last[None, :, None] * end
        starts = tf.cast(_rising_edges(mask), potentials.dtype)[:, :, None]
        ends = tf.cast(_falling_edges(mask), potentials.dtype)[:, :, None]
        return potentials + starts * start + ends * end

    def compute_mask(self, inputs: TensorLike, mask: TensorLike | None = None) -> TensorLike | None:
        return mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            chain_initializer=keras.initializers.serialize(self.chain_initializer),
            use_boundary=self.use_boundary,
            boundary_initializer=keras.initializers.serialize(self.boundary_initializer),
            use_kernel=self.use_kernel,
        )
        return config
