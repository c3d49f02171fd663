"""TF Addons' ``tfa.text.CRFModelWrapper``: a Keras 3 model that puts a :class:`~tfseq.text.crf_layer.CRF`
on top of a base model and trains it with the CRF's negative log-likelihood in ``fit``."""

from typing import Any

import keras
import tensorflow as tf

from tfseq.text.crf import crf_log_likelihood
from tfseq.text.crf_layer import CRF

TensorLike = Any


@keras.saving.register_keras_serializable(package="tfseq")
class CRFModelWrapper(keras.Model):
    """``base_model`` followed by a CRF layer, trained on the CRF loss (TF Addons 0.23's
    ``tfa.text.CRFModelWrapper``).

    ``model = CRFModelWrapper(base_model, num_tags); model.compile("sgd"); model.fit(x, tags)``:
    ``base_model`` maps ``x`` to ``[batch, T, features]`` (e.g. a BiLSTM), the wrapper's
    :class:`~tfseq.text.crf_layer.CRF` (built from the other arguments) turns that into tag
    potentials, and ``fit`` / ``evaluate`` minimize / report

        crf_loss = mean over the batch of  -crf_log_likelihood(potentials, y, lengths, chain_kernel) * sample_weight

    (``sample_weight`` ``[batch]``, one weight per sequence, optional). ``loss`` is ``crf_loss``
    plus the model's ``losses`` (weight regularizers, ``add_loss``). ``model(x)`` and ``predict``
    return the Viterbi tags, int32 ``[batch, T]``. No ``loss=`` is given to ``compile``; metrics
    given there are updated with ``(y, decoded tags)``, without sample weights, as in TF Addons.

    Differences from TF Addons (Keras 2) that follow Keras 3's conventions:

    * ``train_step`` / ``test_step`` return the model's metric results: ``loss`` and ``crf_loss``
      are tracked by ``keras.metrics.Mean`` (reset at each epoch, and by ``train_on_batch`` /
      ``test_on_batch``), so ``fit``'s history holds their mean over the epoch; TF Addons returned
      the last batch's values. With one batch per epoch they are the same numbers.
    * The optimizer's loss scaling (``LossScaleOptimizer``) is applied to the gradients.
    * ``get_config`` stores ``base_model`` as a serialized Keras object, so a ``Sequential`` or a
      registered subclassed base model is restored too; ``.keras`` files save and load the whole
      wrapper (TF Addons saved SavedModel folders).

    Args:
        base_model: the Keras model (or layer) below the CRF.
        units: the number of tags.
        chain_initializer, use_boundary, boundary_initializer, use_kernel: the CRF layer's
            arguments (:class:`~tfseq.text.crf_layer.CRF`).
        **kwargs: passed to the CRF layer (``name``, ``dtype``), as in TF Addons.
    """

    def __init__(
        self,
        base_model: keras.layers.Layer,
        units: int,
        chain_initializer: Any = "orthogonal",
        use_boundary: bool = True,
        boundary_initializer: Any = "zeros",
        use_kernel: bool = True,
        **kwargs: Any,
    ):
        super().__init__()
        if not isinstance(base_model, keras.layers.Layer):
            raise ValueError(f"CRFModelWrapper: base_model must be a Keras model or layer, got {base_model!r}")
        self.crf_layer = CRF(
            units=units,
            chain_initializer=chain_initializer,
            use_boundary=use_boundary,
            boundary_initializer=boundary_initializer,
            use_kernel=use_kernel,
            **kwargs,
        )
        self.base_model = base_model
        self.crf_loss_tracker = keras.metrics.Mean(name="crf_loss")

    def unpack_training_data(self, data: Any) -> tuple[Any, Any, Any]:
        """``(x, y, sample_weight)`` of one batch from ``fit`` / ``evaluate``; override for other
        layouts (as in TF Addons)."""
        return keras.utils.unpack_x_y_sample_weight(data)

    def call(
        self, inputs: TensorLike, training: bool | None = None, mask: TensorLike | None = None,
        return_crf_internal: bool = False,
    ) -> Any:
        """The decoded tags; with ``return_crf_internal=True``,
        ``((potentials, sequence_length, chain_kernel), decoded_sequence)``."""
        if mask is None:
            features = self.base_model(inputs, training=training)
        else:
            features = self.base_model(inputs, training=training, mask=mask)
        decoded_sequence, potentials, sequence_length, chain_kernel = self.crf_layer(features)
        if return_crf_internal:
            return (potentials, sequence_length, chain_kernel), decoded_sequence
        return decoded_sequence

    def compute_crf_loss(
        self, potentials: TensorLike, sequence_length: TensorLike, kernel: TensorLike, y: TensorLike,
        sample_weight: TensorLike | None = None,
    ) -> tf.Tensor:
        """``mean(-crf_log_likelihood(...) * sample_weight)`` over the batch."""
        log_likelihood, _ = crf_log_likelihood(potentials, y, sequence_length, kernel)
        loss = -log_likelihood
        if sample_weight is not None:
            loss = loss * tf.cast(sample_weight, loss.dtype)
        return tf.reduce_mean(loss)

    def _step_losses(self, data: Any, training: bool) -> tuple[Any, Any, tf.Tensor, tf.Tensor]:
        x, y, sample_weight = self.unpack_training_data(data)
        (potentials, sequence_length, kernel), decoded_sequence = self(
            x, training=training, return_crf_internal=True
        )
        crf_loss = self.compute_crf_loss(potentials, sequence_length, kernel, y, sample_weight)
        loss = crf_loss
        if self.losses:
            loss = loss + tf.add_n([tf.cast(extra, loss.dtype) for extra in self.losses])
        return y, decoded_sequence, crf_loss, loss

    def _results(self, y: Any, decoded_sequence: tf.Tensor, crf_loss: tf.Tensor, loss: tf.Tensor) -> dict:
        self._loss_tracker.update_state(loss)
        self.crf_loss_tracker.update_state(crf_loss)
        return self.compute_metrics(None, y, decoded_sequence, sample_weight=None)

    def train_step(self, data: Any) -> dict:
        with tf.GradientTape() as tape:
            y, decoded_sequence, crf_loss, loss = self._step_losses(data, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._results(y, decoded_sequence, crf_loss, loss)

    def test_step(self, data: Any) -> dict:
        y, decoded_sequence, crf_loss, loss = self._step_losses(data, training=False)
        return self._results(y, decoded_sequence, crf_loss, loss)

    def get_config(self) -> dict:
        return {"base_model": keras.saving.serialize_keras_object(self.base_model), **self.crf_layer.get_config()}

    @classmethod
    def from_config(cls, config: dict) -> "CRFModelWrapper":
        config = dict(config)
        base_model = keras.saving.deserialize_keras_object(config.pop("base_model"))
        return cls(base_model=base_model, **config)
