"""TF Addons' ``tfa.rnn`` (0.23) as Keras 3 cells: ``import tfseq as tfa`` then
``tfa.rnn.LayerNormLSTMCell(...)`` runs TF Addons code unchanged.

The cells take TF Addons' arguments, compute its math, create its weights in its order (so a
TF Addons model's ``get_weights()`` loads with ``set_weights``) and run in ``keras.layers.RNN``.
``LayerNormLSTMCell`` and ``PeepholeLSTMCell`` subclass ``keras.layers.LSTMCell``,
``LayerNormSimpleRNNCell`` subclasses ``keras.layers.SimpleRNNCell``; ``NASCell`` shares
``tfseq.rnn_cell.NASCell``'s math.
"""

from tfseq.rnn.esn_cell import ESNCell
from tfseq.rnn.layer_norm_cells import LayerNormLSTMCell, LayerNormSimpleRNNCell
from tfseq.rnn.nas_cell import NASCell
from tfseq.rnn.peephole_lstm_cell import PeepholeLSTMCell

__all__ = ["ESNCell", "LayerNormLSTMCell", "LayerNormSimpleRNNCell", "NASCell", "PeepholeLSTMCell"]
