"""How cells, wrappers and stacks describe themselves to the fused fast path.

The planner of :mod:`tfseq.nn.fused` knows no cell class. It asks each object for one of
four descriptions, and reads nothing else of it (no private attributes, no class checks):

* a **cell** the fused kernels can run defines ``fused_spec()``, returning a
  :class:`FusedSpec` (or ``None``: the cell runs per step);
* a **dropout wrapper** around one such cell (its ``wrapped_cells()``) defines
  ``fused_dropout(spec, training)``, returning a :class:`FusedDropout` (or ``None``: nothing
  drops in this call);
* a **stack** run layer by layer defines ``fused_layers()``, returning a :class:`FusedStack`;
* a wrapper that **places** one cell on a device or **adds its inputs** to its outputs
  (``DeviceWrapper``, ``ResidualWrapper``), around a layer or a dropout wrapper of one,
  defines ``fused_wrapping()``, returning a :class:`FusedWrapping`.

A cell class whose whole full-length sequence runs by a kernel of its own is registered with
:func:`register_sequence_kernel` by the module holding that kernel (``AttentionWrapper``:
:mod:`tfseq.seq2seq.fused_attention`'s hoisted loop); ``nn.dynamic_rnn`` asks
:func:`sequence_kernel` before the planner, which looks through wrappers that only place
their cell on a device.

Each description vouches for the ``call`` (and ``__call__``) of the class that defines the
method; a subclass that overrides ``call`` without overriding the method runs per step.
A description that cannot cover a case raises :class:`NotFusable` with the reason, which
the planner reports (``Plan(path, reason)``).

Three kinds of sequence kernels exist, each TF1's math with gates from one fused
matmul of ``[x, h]``:

* ``"lstm"``: gates ``i, j, f, o = split([x, h] @ kernel + bias, 4)``;
  ``c' = sigmoid(f + forget_bias [+ w_f_diag * c]) * c + sigmoid(i [+ w_i_diag * c]) * tanh(j)``,
  optionally clipped; ``h' = sigmoid(o [+ w_o_diag * c']) * tanh(c')``, optionally
  projected (``h' @ projection/kernel``) and clipped. Weights ``kernel``, ``bias``,
  ``w_i_diag``/``w_f_diag``/``w_o_diag`` (peepholes), ``projection/kernel``.
* ``"gru"``: TF1's ``GRUCell``; weights ``gates/kernel``, ``gates/bias``,
  ``candidate/kernel``, ``candidate/bias``.
* ``"rnn"``: ``h' = tanh([x, h] @ kernel + bias)``; weights ``kernel``, ``bias``.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

KINDS = ("lstm", "gru", "rnn")
CLIP_GRADIENTS = ("masked", "straight_through")


class NotFusable(Exception):
    """Why an object cannot run fused: raised by a ``fused_*`` description, reported by the planner."""


def check_not_overridden(obj: object, base: type, methods: Sequence[str]) -> None:
    """Raise :class:`NotFusable` if ``type(obj)`` overrides one of ``base``'s ``methods``:
    a description written for ``base`` does not vouch for a subclass's replacement."""
    for name in methods:
        if getattr(type(obj), name) is not getattr(base, name):
            raise NotFusable(f"{type(obj).__name__} overrides {name}()")


_SEQUENCE_KERNELS: dict[type, Callable] = {}


def register_sequence_kernel(cell_type: type, describe: Callable) -> None:
    """Register ``describe(cell, state, training) -> run`` for cells of exactly ``cell_type``
    (a subclass is not covered): ``run(inputs_tm [T, batch, depth], state, sequence_length=None,
    finished=None) -> (outputs_tm, final_state)`` equals stepping the cell from ``state`` over
    the inputs, with a ``sequence_length`` as ``nn.dynamic_rnn`` does (zero outputs and the state
    carried past each row's length) or ``finished [T, batch]`` as ``nn.RNN`` does with a Keras
    mask (the same at the steps marked True); ``describe`` raises :class:`NotFusable` with the
    reason where its kernel does not cover ``cell`` (``state=None``: whatever the state)."""
    _SEQUENCE_KERNELS[cell_type] = describe


def sequence_kernel(cell: Any, state: Any, training: Any = None) -> Callable:
    """The registered whole-sequence kernel's ``run`` for ``cell`` (see
    :func:`register_sequence_kernel`); for a wrapper that only places its cell on a device
    (``fused_wrapping()`` with a device and no residual), the wrapped cell's, run on that device.

    Raises:
        NotFusable: no kernel is registered for ``type(cell)``, or it does not cover ``cell``.
    """
    describe = _SEQUENCE_KERNELS.get(type(cell))
    if describe is not None:
        return describe(cell, state, training)
    inner, device = placed_cell(cell)
    if inner is cell:
        raise NotFusable(f"{type(cell).__name__} has no whole-sequence kernel")
    run = sequence_kernel(inner, state, training)

    def run_on_device(*args: Any, **kwargs: Any) -> Any:
        with tf.device(device):
            return run(*args, **kwargs)

    return run_on_device


def wrapping(obj: Any) -> "FusedWrapping | None":
    """``obj``'s :class:`FusedWrapping` where it describes itself with ``fused_wrapping()``
    (for the ``call`` of the class defining that method), else None.

    Raises:
        NotFusable: ``obj`` is such a wrapper but cannot run fused (its description says why,
            or a subclass overrides its ``call``).
    """
    owner = next((cls for cls in type(obj).__mro__ if "fused_wrapping" in vars(cls)), None)
    if owner is None:
        return None
    check_not_overridden(obj, owner, ("call", "__call__"))
    return obj.fused_wrapping()


def peel_wrappings(cell: Any) -> tuple[Any, str | None, bool]:
    """``(inner, device, residual)``: ``cell`` with the wrappers that describe themselves with
    ``fused_wrapping()`` peeled off, the device its inner cell runs on (the innermost one named,
    or None) and whether one of them adds the inputs to the outputs.

    Raises:
        NotFusable: a wrapper cannot run fused, or two add the inputs.
    """
    device, residual = None, False
    described = wrapping(cell)
    while described is not None:
        if described.residual and residual:
            raise NotFusable(f"{cell.name}: two residual wrappers on one layer")
        device, residual = described.device or device, residual or described.residual
        cell = cell.wrapped_cells()[0]
        described = wrapping(cell)
    return cell, device, residual


def placed_cell(cell: Any) -> tuple[Any, str | None]:
    """``(inner, device)``: ``cell`` with the wrappers that only place it on a device peeled
    off, and the device its inner cell runs on (the innermost one named), or ``(cell, None)``."""
    device = None
    while True:
        try:
            described = wrapping(cell)
        except NotFusable:
            return cell, device
        if described is None or described.residual:
            return cell, device
        device = described.device or device
        cell = cell.wrapped_cells()[0]


@dataclasses.dataclass(frozen=True)
class FusedSpec:
    """A cell's step math, in the form the fused kernels read.

    Args:
        kind: ``"lstm"``, ``"gru"`` or ``"rnn"`` (see the module docstring).
        units: ``num_units`` (the size of ``c``, and of ``h`` without a projection).
        weights: ``{TF1 relative name: variable}`` (``"kernel"``, ``"gates/kernel"``, ...);
            empty until the cell is built (planning reads only the other fields).
        activation: the cell's activation (the kernels implement ``tanh`` only).
        forget_bias: LSTM: added to the forget-gate pre-activation at every step.
        use_peepholes: LSTM: diagonal peepholes ``w_i_diag``, ``w_f_diag``, ``w_o_diag``.
        cell_clip: LSTM: ``c`` clipped to ``[-cell_clip, cell_clip]`` (None: no clip).
        clip_gradient: LSTM: ``"masked"`` (``tf.clip_by_value``: no gradient through a
            clipped value) or ``"straight_through"`` (TF1's ``LSTMBlockCell`` kernels: the
            gradient passes the clip unchanged).
        num_proj: LSTM: width of the projected ``h`` (``projection/kernel``), or None.
        proj_clip: LSTM: the projected ``h`` clipped to ``[-proj_clip, proj_clip]``.
        state_is_tuple: LSTM: state ``LSTMStateTuple(c, h)`` (True) or ``[c, h]`` concatenated.
    """

    kind: str
    units: int
    weights: Mapping[str, Any]
    activation: Callable
    forget_bias: float = 0.0
    use_peepholes: bool = False
    cell_clip: float | None = None
    clip_gradient: str = "masked"
    num_proj: int | None = None
    proj_clip: float | None = None
    state_is_tuple: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"FusedSpec: kind must be one of {KINDS}, got {self.kind!r}")
        if self.clip_gradient not in CLIP_GRADIENTS:
            raise ValueError(f"FusedSpec: clip_gradient must be one of {CLIP_GRADIENTS}, got {self.clip_gradient!r}")

    @property
    def output_size(self) -> int:
        """Width of the output and of the state ``h``."""
        return self.num_proj or self.units

    @property
    def is_basic_lstm(self) -> bool:
        """An LSTM without peepholes, clipping or projection (the leanest kernel)."""
        return self.kind == "lstm" and not self.use_peepholes and self.cell_clip is None and self.num_proj is None


MaskFn = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class FusedDropout:
    """A dropout wrapper's dropout in one call, as the fused path applies it to whole sequences.

    Each mask function maps a tensor of ones to the mask the wrapper's step multiplies by
    (``1 / keep_prob`` or 0), drawn with the wrapper's own sampler. The fused path calls them
    on ``[1, size]`` ones when ``variational`` (the per-step path's very masks) and on
    ``[time, batch, size]`` ones otherwise.

    Args:
        variational: one mask per sequence (``[1, size]``), shared by every step and row.
        input_mask: mask of the inputs, or None (no input dropout).
        h_mask: mask of the ``h`` the cell carries to its next step (variational state dropout: an
            LSTM's ``h``, its ``c`` kept; a GRU's or basic RNN's one state), or None.
        output_mask: mask of the outputs, or None.
        masks_by_step: ``(steps, input_shape, output_shape, dtype) -> (input masks, output
            masks)``, each ``[steps, *shape]`` or None where that dropout is off, equal to those
            the per-step path draws at steps ``0 .. steps - 1`` (advancing the sampler as those
            draws do), or None; only for input and output dropout that is not variational,
            without state dropout.
    """

    variational: bool
    input_mask: MaskFn | None = None
    h_mask: MaskFn | None = None
    output_mask: MaskFn | None = None
    masks_by_step: Callable[..., Any] | None = None


@dataclasses.dataclass(frozen=True)
class FusedWrapping:
    """What a wrapper around one cell does that the fused path reproduces around the whole
    sequence of that cell (its ``wrapped_cells()[0]``).

    Args:
        device: the device the wrapped cell's step runs on (``tf.device``), or None.
        residual: the wrapper adds the step inputs to the cell's outputs (TF1's default
            ``residual_fn``); past a row's length the fused path adds nothing, as the per-step
            path zeroes those outputs.
    """

    device: str | None = None
    residual: bool = False


@dataclasses.dataclass(frozen=True)
class FusedStack:
    """A stack of cells run one after another: layer ``k`` reads the whole output sequence
    of layer ``k - 1``; the stack's output is the last layer's.

    Args:
        cells: the layers, each a cell with ``fused_spec()`` or a dropout wrapper of one.
        split_state: the stack's state -> one state per layer.
        join_states: one state per layer -> the stack's state.
    """

    cells: Sequence[Any]
    split_state: Callable[[Any], Sequence[Any]]
    join_states: Callable[[Sequence[Any]], Any]
