"""The linear-chain conditional random field (CRF) of TF1's ``tf.contrib.crf`` and TF Addons'
``tfa.text``: sequence scores, the log-likelihood, and Viterbi decoding.

Notation, for one sequence of length ``n`` with unary potentials ``u_t(j)`` (``inputs
[batch, T, K]``, K tags) and transition potentials ``A[i, j]`` (``transition_params [K, K]``,
tag ``i`` followed by tag ``j``)::

    score(y)  = sum_{t < n} u_t(y_t) + sum_{1 <= t < n} A[y_{t-1}, y_t]

    alpha_0(j) = u_0(j)
    alpha_t(j) = u_t(j) + logsumexp_i (alpha_{t-1}(i) + A[i, j])         (forward algorithm)
    log Z      = logsumexp_j alpha_{n-1}(j)
    log p(y)   = score(y) - log Z

    delta_0(j) = u_0(j)
    delta_t(j) = u_t(j) + max_i (delta_{t-1}(i) + A[i, j])                (Viterbi)
    psi_t(j)   = argmax_i (delta_{t-1}(i) + A[i, j])                       (backpointers)
    y*_{n-1}   = argmax_j delta_{n-1}(j),   y*_{t-1} = psi_t(y*_t)

Positions ``t >= n`` (padding) take no part in any of these: the recursions carry alpha and
delta through them unchanged, and their tags and potentials are never read. Ties go to the
lowest index, as ``argmax`` does. A sequence of length 0 scores 0 and has ``log Z = 0`` (so its
log-likelihood is 0); decoding it behaves as decoding its first step alone (see
:func:`crf_decode`), which is what TF Addons does.

Every function accepts int32 or int64 tags and lengths (computed in int32) and float16, bfloat16,
float32 or float64 potentials; the transition matrix is cast to the potentials' dtype. They are
plain TensorFlow ops: eager, inside ``tf.function`` (also with unknown batch and time sizes), and
under ``jit_compile=True``, with gradients for the log-likelihood's inputs and transitions.
"""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq.rnn_cell.base import variable_scope_initializer

TensorLike = Any


def _as_lengths(sequence_lengths: TensorLike) -> tf.Tensor:
    return tf.cast(sequence_lengths, tf.int32)


def _as_tags(tag_indices: TensorLike) -> tf.Tensor:
    return tf.cast(tag_indices, tf.int32)


def _transitions_like(transition_params: TensorLike, inputs: tf.Tensor) -> tf.Tensor:
    return tf.cast(transition_params, inputs.dtype)


def _time_major(x: tf.Tensor) -> tf.Tensor:
    """``[batch, T, ...]`` -> ``[T, batch, ...]``."""
    perm = [1, 0] + list(range(2, x.shape.rank))
    return tf.transpose(x, perm)


def _steps_mask(lengths: tf.Tensor, steps: tf.Tensor) -> tf.Tensor:
    """bool ``[T, batch]``: step ``t`` of sequence ``b`` is a recursion step (``1 <= t < n_b``)."""
    mask = tf.sequence_mask(lengths, steps)  # [batch, T]
    first = tf.range(steps) > 0  # [T]
    return tf.logical_and(tf.transpose(mask), first[:, None])


def _forward(potentials: tf.Tensor, lengths: tf.Tensor, transitions: tf.Tensor) -> tf.Tensor:
    """``alpha_{max(n, 1) - 1}`` ``[batch, K]`` over all ``T`` steps of ``potentials [batch, T, K]``.

    Step 0 is a recursion step for no sequence, so alpha keeps ``u_0`` there: the loop always
    has at least one element (empty loops do not trace inside ``tf.function`` or XLA).
    """
    steps = tf.shape(potentials)[1]
    elems = (_time_major(potentials), _steps_mask(lengths, steps))

    def step(alpha, elem):
        u_t, valid = elem  # [batch, K], [batch]
        new = u_t + tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1)
        return tf.where(valid[:, None], new, alpha)

    return tf.foldl(step, elems, initializer=potentials[:, 0])


def _viterbi_forward(potentials: tf.Tensor, lengths: tf.Tensor, transitions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Viterbi's forward pass over all ``T`` steps of ``potentials [batch, T, K]``.

    Returns ``(pointers, delta)``: int32 ``[T, batch, K]`` (time-major) backpointers ``psi_t``,
    the identity where ``t`` is not a recursion step (``t = 0`` and ``t >= n``), so following them
    back from any position at or past the end stays on the last tag; and the final
    ``delta_{max(n, 1) - 1}`` ``[batch, K]``.
    """
    steps = tf.shape(potentials)[1]
    num_tags = tf.shape(potentials)[2]
    identity = tf.range(num_tags)[None]  # [1, K]
    elems = (_time_major(potentials), _steps_mask(lengths, steps))

    def step(carry, elem):
        delta, _ = carry
        u_t, valid = elem
        scores = delta[:, :, None] + transitions[None]  # [batch, K from, K to]
        pointers = tf.argmax(scores, axis=1, output_type=tf.int32)
        new = u_t + tf.reduce_max(scores, axis=1)
        valid = valid[:, None]
        return tf.where(valid, new, delta), tf.where(valid, pointers, identity)

    first = potentials[:, 0]
    deltas, pointers = tf.scan(step, elems, initializer=(first, tf.zeros_like(first, tf.int32)))
    return pointers, deltas[-1]


def _follow(pointers: tf.Tensor, tag: tf.Tensor, reverse: bool) -> tf.Tensor:
    """Apply the time-major backpointers ``[T, batch, K]`` step by step, starting from ``tag
    [batch]``: ``[T, batch]``, the tag each step's pointers give for the one before it."""
    def step(current, pointer):
        return tf.gather(pointer, current, axis=1, batch_dims=1)

    return tf.scan(step, pointers, initializer=tag, reverse=reverse)


def crf_filtered_inputs(inputs: TensorLike, tag_bitmap: TensorLike) -> tf.Tensor:
    """``inputs`` with the tags that ``tag_bitmap`` rules out set to ``-inf``.

    Args:
        inputs: ``[batch, T, K]`` unary potentials.
        tag_bitmap: bool ``[batch, T, K]``, True for the tags allowed at each step.

    Returns:
        ``[batch, T, K]``, ``inputs`` where allowed, ``-inf`` elsewhere.
    """
    inputs = tf.convert_to_tensor(inputs)
    minus_inf = tf.constant(float("-inf"), inputs.dtype)
    return tf.where(tf.cast(tag_bitmap, tf.bool), inputs, minus_inf)


def crf_unary_score(tag_indices: TensorLike, sequence_lengths: TensorLike, inputs: TensorLike) -> tf.Tensor:
    """``sum_{t < n} u_t(y_t)`` per sequence.

    Args:
        tag_indices: int ``[batch, T]`` tags ``y`` (values past the length must still be valid tags).
        sequence_lengths: int ``[batch]`` lengths ``n``.
        inputs: ``[batch, T, K]`` unary potentials ``u``.

    Returns:
        ``[batch]`` unary scores, in the dtype of ``inputs``.
    """
    inputs = tf.convert_to_tensor(inputs)
    tags = _as_tags(tag_indices)
    picked = tf.gather(inputs, tags, axis=2, batch_dims=2)  # [batch, T]
    mask = tf.sequence_mask(_as_lengths(sequence_lengths), tf.shape(tags)[1], dtype=inputs.dtype)
    return tf.reduce_sum(picked * mask, axis=1)


def crf_binary_score(tag_indices: TensorLike, sequence_lengths: TensorLike, transition_params: TensorLike) -> tf.Tensor:
    """``sum_{1 <= t < n} A[y_{t-1}, y_t]`` per sequence (0 for lengths up to 1).

    Args:
        tag_indices: int ``[batch, T]`` tags ``y``.
        sequence_lengths: int ``[batch]`` lengths ``n``.
        transition_params: ``[K, K]`` transition potentials ``A``.

    Returns:
        ``[batch]`` binary scores, in the dtype of ``transition_params``.
    """
    transitions = tf.convert_to_tensor(transition_params)
    tags = _as_tags(tag_indices)
    pairs = tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1)  # [batch, T - 1, 2]
    picked = tf.gather_nd(transitions, pairs)  # [batch, T - 1]
    mask = tf.sequence_mask(_as_lengths(sequence_lengths), tf.shape(tags)[1], dtype=transitions.dtype)
    return tf.reduce_sum(picked * mask[:, 1:], axis=1)


def crf_sequence_score(
    inputs: TensorLike, tag_indices: TensorLike, sequence_lengths: TensorLike, transition_params: TensorLike
) -> tf.Tensor:
    """The unnormalized score ``score(y)`` of the tag sequences ``tag_indices`` (module docstring):
    :func:`crf_unary_score` plus :func:`crf_binary_score`.

    Args:
        inputs: ``[batch, T, K]`` unary potentials.
        tag_indices: int ``[batch, T]`` tags. When ``T`` is 1 only the first column is read
            (TF Addons' single-step case: ``tag_indices`` may have more columns).
        sequence_lengths: int ``[batch]`` lengths (a length of 0 scores 0).
        transition_params: ``[K, K]`` transition potentials.

    Returns:
        ``[batch]`` scores.
    """
    inputs = tf.convert_to_tensor(inputs)
    transitions = _transitions_like(transition_params, inputs)
    tags = _as_tags(tag_indices)
    used = tf.where(tf.equal(tf.shape(inputs)[1], 1), 1, tf.shape(tags)[1])
    tags = tags[:, :used]
    return crf_unary_score(tags, sequence_lengths, inputs) + crf_binary_score(tags, sequence_lengths, transitions)


def crf_forward(
    inputs: TensorLike, state: TensorLike, transition_params: TensorLike, sequence_lengths: TensorLike
) -> tf.Tensor:
    """The forward algorithm's last alpha, ``alpha_{n-1}`` per sequence.

    Args:
        inputs: ``[batch, T - 1, K]``: the unary potentials of steps ``1 .. T-1``.
        state: ``[batch, K]``: ``alpha_0``, the unary potentials of step 0.
        transition_params: ``[K, K]``.
        sequence_lengths: int ``[batch]`` lengths ``n`` of the full sequences (step 0 included);
            for ``n <= 1`` the result is ``state``.

    Returns:
        ``[batch, K]`` alphas at the last step of each sequence.
    """
    state = tf.convert_to_tensor(state)
    inputs = tf.convert_to_tensor(inputs, dtype=state.dtype)
    transitions = _transitions_like(transition_params, state)
    potentials = tf.concat([state[:, None], inputs], axis=1)
    return _forward(potentials, _as_lengths(sequence_lengths), transitions)


def crf_log_norm(inputs: TensorLike, sequence_lengths: TensorLike, transition_params: TensorLike) -> tf.Tensor:
    """The log partition function ``log Z = logsumexp_y score(y)`` per sequence, by the forward
    algorithm (module docstring); 0 for a length of 0.

    Args:
        inputs: ``[batch, T, K]`` unary potentials.
        sequence_lengths: int ``[batch]`` lengths.
        transition_params: ``[K, K]``.

    Returns:
        ``[batch]`` log normalizers.
    """
    inputs = tf.convert_to_tensor(inputs)
    lengths = _as_lengths(sequence_lengths)
    alpha = _forward(inputs, lengths, _transitions_like(transition_params, inputs))
    log_norm = tf.reduce_logsumexp(alpha, axis=1)
    return tf.where(lengths > 0, log_norm, tf.zeros_like(log_norm))


def crf_multitag_sequence_score(
    inputs: TensorLike, tag_bitmap: TensorLike, sequence_lengths: TensorLike, transition_params: TensorLike
) -> tf.Tensor:
    """``logsumexp`` of ``score(y)`` over every tag sequence ``y`` that ``tag_bitmap`` allows
    (several correct tags per step); one-hot bitmaps give :func:`crf_sequence_score`.

    It is :func:`crf_log_norm` of :func:`crf_filtered_inputs`.

    Args:
        inputs: ``[batch, T, K]`` unary potentials.
        tag_bitmap: bool ``[batch, T, K]``, True for the tags allowed at each step.
        sequence_lengths: int ``[batch]`` lengths (a length of 0 scores 0).
        transition_params: ``[K, K]``.

    Returns:
        ``[batch]`` scores.
    """
    inputs = tf.convert_to_tensor(inputs)
    return crf_log_norm(crf_filtered_inputs(inputs, tag_bitmap), sequence_lengths, transition_params)


def crf_log_likelihood(
    inputs: TensorLike,
    tag_indices: TensorLike,
    sequence_lengths: TensorLike,
    transition_params: TensorLike | None = None,
) -> tuple[tf.Tensor, Any]:
    """``log p(y) = score(y) - log Z`` of the tag sequences ``tag_indices``.

    The usual loss is ``-tf.reduce_mean(log_likelihood)``.

    Args:
        inputs: ``[batch, T, K]`` unary potentials (K must be known statically when
            ``transition_params`` is None).
        tag_indices: int ``[batch, T]`` gold tags.
        sequence_lengths: int ``[batch]`` lengths.
        transition_params: ``[K, K]`` transition potentials (usually the model's weight).
            None creates a new float32 ``keras.Variable`` named ``transitions``, initialized as
            TF1's ``get_variable("transitions", [K, K])`` was: by the initializer of an enclosing
            ``tf.compat.v1.variable_scope``, else Glorot uniform. It is created at every such call
            and belongs to no model: keep the returned variable and pass it in from then on
            (inside a ``tf.function`` only the first trace may create it).

    Returns:
        ``(log_likelihood, transition_params)``: ``[batch]`` log-likelihoods (0 for a length of
        0), and the transition matrix used: the one given, or the new variable.
    """
    inputs = tf.convert_to_tensor(inputs)
    if transition_params is None:
        num_tags = inputs.shape[-1]
        if num_tags is None:
            raise ValueError("crf_log_likelihood: the number of tags (inputs' last dimension) must be known "
                             "statically to create transition_params")
        initializer = variable_scope_initializer() or keras.initializers.GlorotUniform()
        transition_params = keras.Variable(initializer, shape=(num_tags, num_tags), dtype="float32",
                                           name="transitions")
    transitions = _transitions_like(transition_params, inputs)
    lengths = _as_lengths(sequence_lengths)
    score = crf_sequence_score(inputs, tag_indices, lengths, transitions)
    return score - crf_log_norm(inputs, lengths, transitions), transition_params


def crf_decode_forward(
    inputs: TensorLike, state: TensorLike, transition_params: TensorLike, sequence_lengths: TensorLike
) -> tuple[tf.Tensor, tf.Tensor]:
    """Viterbi's forward pass over steps ``1 .. T-1`` (module docstring).

    Args:
        inputs: ``[batch, T - 1, K]``: the unary potentials of steps ``1 .. T-1``.
        state: ``[batch, K]``: ``delta_0``, the unary potentials of step 0.
        transition_params: ``[K, K]``.
        sequence_lengths: int ``[batch]``: how many of the ``T - 1`` steps each sequence has
            (its length minus 1, as :func:`crf_decode` passes it).

    Returns:
        ``(backpointers, last_state)``: int32 ``[batch, T - 1, K]`` backpointers ``psi``, 0 at
        the steps past each sequence's end; ``[batch, K]`` the final ``delta`` (carried unchanged
        through those steps).
    """
    state = tf.convert_to_tensor(state)
    inputs = tf.convert_to_tensor(inputs, dtype=state.dtype)
    lengths = _as_lengths(sequence_lengths)
    potentials = tf.concat([state[:, None], inputs], axis=1)
    pointers, last = _viterbi_forward(potentials, lengths + 1, _transitions_like(transition_params, state))
    pointers = tf.transpose(pointers[1:], [1, 0, 2])  # [batch, T - 1, K]
    mask = tf.sequence_mask(lengths, tf.shape(inputs)[1])
    return tf.where(mask[:, :, None], pointers, tf.zeros_like(pointers)), last


def crf_decode_backward(inputs: TensorLike, state: TensorLike) -> tf.Tensor:
    """Follow backpointers, step by step: ``new_t = inputs[:, t][new_{t-1}]``, from ``state``.

    Args:
        inputs: int32 ``[batch, T - 1, K]`` backpointers, already reversed in time (the step
            nearest the sequence's end first).
        state: int32 ``[batch, 1]``: the tag to start from (the last step's).

    Returns:
        int32 ``[batch, T - 1, 1]``: the tag each step's backpointers give.
    """
    pointers = _as_tags(inputs)
    state = _as_tags(state)
    if pointers.shape[1] == 0:
        return tf.zeros([tf.shape(pointers)[0], 0, 1], tf.int32)
    tags = _follow(_time_major(pointers), state[:, 0], reverse=False)  # [T - 1, batch]
    return tf.transpose(tags)[:, :, None]


def crf_decode(
    potentials: TensorLike, transition_params: TensorLike, sequence_length: TensorLike
) -> tuple[tf.Tensor, tf.Tensor]:
    """The highest-scoring tag sequence (Viterbi, module docstring) and its score.

    Args:
        potentials: ``[batch, T, K]`` unary potentials.
        transition_params: ``[K, K]``.
        sequence_length: int ``[batch]`` lengths.

    Returns:
        ``(decode_tags, best_score)``: int32 ``[batch, T]`` tags, 0 past each sequence's end;
        ``[batch]`` their scores. A sequence of length 0 decodes as its first step alone (tag
        ``argmax u_0`` at position 0, score ``max u_0``), as in TF Addons.
    """
    potentials = tf.convert_to_tensor(potentials)
    lengths = _as_lengths(sequence_length)
    pointers, delta = _viterbi_forward(potentials, lengths, _transitions_like(transition_params, potentials))
    last = tf.argmax(delta, axis=1, output_type=tf.int32)  # [batch]
    previous = _follow(pointers, last, reverse=True)  # [T, batch]: position t - 1's tag at row t
    tags = tf.concat([tf.transpose(previous[1:]), last[:, None]], axis=1)  # [batch, T]
    keep = tf.sequence_mask(tf.maximum(lengths, 1), tf.shape(potentials)[1])
    return tf.where(keep, tags, tf.zeros_like(tags)), tf.reduce_max(delta, axis=1)


def crf_constrained_decode(
    potentials: TensorLike, tag_bitmap: TensorLike, transition_params: TensorLike, sequence_length: TensorLike
) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`crf_decode` among the tags that ``tag_bitmap`` allows (bool ``[batch, T, K]``),
    i.e. of :func:`crf_filtered_inputs`."""
    return crf_decode(crf_filtered_inputs(potentials, tag_bitmap), transition_params, sequence_length)


def viterbi_decode(score: Any, transition_params: Any) -> tuple[list[int], Any]:
    """Viterbi decoding of one sequence in NumPy (outside TensorFlow, e.g. at test time).

    Args:
        score: ``[n, K]`` unary potentials of one sequence, without padding (``n >= 1``).
        transition_params: ``[K, K]``.

    Returns:
        ``(viterbi, viterbi_score)``: the best tags, a list of ``n`` ints, and their score (a
        NumPy scalar of the dtype of ``score``).
    """
    score = np.asarray(score)
    transitions = np.asarray(transition_params)
    if score.ndim != 2 or score.shape[0] == 0:
        raise ValueError(f"viterbi_decode: score must be [seq_len >= 1, num_tags], got shape {score.shape}")
    delta = score[0].copy()
    pointers = []
    for u_t in score[1:]:
        candidates = delta[:, None] + transitions  # [K from, K to]
        pointers.append(np.argmax(candidates, axis=0))
        delta = (u_t + np.max(candidates, axis=0)).astype(score.dtype)
    path = [int(np.argmax(delta))]
    for pointer in reversed(pointers):
        path.append(int(pointer[path[-1]]))
    path.reverse()
    return path, np.max(delta)


@keras.saving.register_keras_serializable(package="tfseq")
class CrfDecodeForwardRnnCell(keras.layers.Layer):
    """One Viterbi forward step as a Keras RNN cell: state ``delta_{t-1}``, input ``u_t``;
    output the int32 backpointers ``psi_t``, new state ``delta_t`` (module docstring).

    ``keras.layers.RNN(CrfDecodeForwardRnnCell(A), return_sequences=True, return_state=True)``
    runs :func:`crf_decode_forward`'s recursion (which itself runs a faster loop).

    Args:
        transition_params: ``[K, K]`` transition potentials (a constant of the cell; saved in
            its config as a nested list).
        **kwargs: Keras layer arguments (``name``, ``dtype``).
    """

    def __init__(self, transition_params: TensorLike, **kwargs: Any):
        super().__init__(**kwargs)
        transitions = tf.convert_to_tensor(transition_params)
        if transitions.shape.rank != 2 or transitions.shape[0] is None:
            raise ValueError(f"CrfDecodeForwardRnnCell: transition_params must be [num_tags, num_tags], "
                             f"got shape {transitions.shape}")
        self._transition_params = transitions[None]  # [1, K, K]
        self._num_tags = int(transitions.shape[0])

    @property
    def state_size(self) -> int:
        return self._num_tags

    @property
    def output_size(self) -> int:
        return self._num_tags

    def call(self, inputs: TensorLike, state: Any) -> tuple[tf.Tensor, tf.Tensor]:
        """``inputs [batch, K]`` (``u_t``), ``state``: ``delta_{t-1} [batch, K]`` or a one-element
        list of it. Returns ``(backpointers int32 [batch, K], new_state [batch, K])``."""
        delta = state[0] if isinstance(state, (list, tuple)) else state
        inputs = tf.convert_to_tensor(inputs)
        scores = tf.cast(delta, inputs.dtype)[:, :, None] + tf.cast(self._transition_params, inputs.dtype)
        new_state = inputs + tf.reduce_max(scores, axis=1)
        return tf.argmax(scores, axis=1, output_type=tf.int32), new_state

    def get_config(self) -> dict:
        config = super().get_config()
        config["transition_params"] = np.asarray(self._transition_params[0]).tolist()
        return config

    @classmethod
    def from_config(cls, config: dict) -> "CrfDecodeForwardRnnCell":
        config = dict(config)
        config["transition_params"] = np.array(config["transition_params"], np.float32)
        return cls(**config)
