"""Sampling from a :class:`~tfseq.demos.lm.model.LanguageModel`: text, names, novelty.

Each step draws the next token from ``softmax(logits / temperature)``; ``greedy=True`` or
``temperature=0`` takes the arg-max instead, and as the temperature goes to 0 the sampled
sequence becomes the greedy one. Draws use stateless random ops keyed by ``(seed, step)``,
so a seed gives the same text every time, independent of any global RNG.
"""

import weakref

import numpy as np
import tensorflow as tf

from tfseq.data import EOL, EOS, detokenize, tokenize

_SAMPLERS = weakref.WeakKeyDictionary()  # model -> {greedy: tf.function}


def _sampler(model, greedy):
    """The whole sampling loop as one ``tf.function`` (a graph ``tf.while_loop``).

    Reads ``prime`` [num, prime_len] (one fused RNN call), then draws ``length`` tokens,
    feeding each back; draw ``t`` uses the stateless seed ``(seed, t)``.
    """
    fns = _SAMPLERS.setdefault(model, {})
    if greedy not in fns:

        @tf.function
        def sample(prime, state, length, temperature, seed):
            logits, state = model(prime, initial_state=state, training=False)
            logits = logits[:, -1, :]  # [num, vocab]
            tokens = tf.TensorArray(tf.int32, size=length)

            def body(t, logits, state, tokens):
                if greedy:
                    next_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)  # [num]
                else:
                    next_ids = tf.random.stateless_categorical(
                        logits / temperature, 1, seed=tf.stack([seed, tf.cast(t, tf.int64)]), dtype=tf.int32
                    )[:, 0]  # [num]
                logits, state = model(next_ids[:, None], initial_state=state, training=False)
                return t + 1, logits[:, -1, :], state, tokens.write(t, next_ids)

            *_, tokens = tf.while_loop(lambda t, *_: t < length, body, (0, logits, state, tokens))
            return tf.transpose(tokens.stack())  # [num, length]

        fns[greedy] = sample
    return fns[greedy]


def _check_sampling_args(length, temperature, num_samples):
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")


def generate(model, prime_ids, length, temperature=1.0, greedy=False, seed=0, num_samples=1):
    """Continue ``prime_ids`` with ``length`` tokens.

    Args:
        model: a :class:`~tfseq.demos.lm.model.LanguageModel`.
        prime_ids: non-empty 1-D sequence of token ids read before generating.
        length: number of tokens to generate.
        temperature: >= 0; divides the logits. 0 means greedy.
        greedy: always take the most likely token.
        seed: int; the same seed gives the same samples.
        num_samples: independent continuations generated side by side.

    Returns:
        ``np.int32`` array ``[num_samples, length]`` of generated ids.
    """
    _check_sampling_args(length, temperature, num_samples)
    prime = np.asarray(prime_ids, dtype=np.int64).reshape(-1)
    if prime.size == 0:
        raise ValueError("prime_ids must hold at least one token id, got an empty sequence")
    if prime.min() < 0 or prime.max() >= model.vocab_size:
        raise ValueError(f"prime_ids must be in [0, {model.vocab_size}), got {prime.tolist()[:10]}")
    greedy = greedy or temperature == 0
    if length == 0:
        return np.zeros([num_samples, 0], np.int32)
    ids = tf.constant(np.tile(prime[None, :], [num_samples, 1]), tf.int32)  # [num, prime]
    sample = _sampler(model, bool(greedy))
    out = sample(ids, model.get_initial_state(num_samples), tf.constant(length, tf.int32),
                 tf.constant(float(temperature or 1.0), tf.float32), tf.constant(int(seed), tf.int64))
    return out.numpy()


def _line_start(prime, level):
    """An end-of-line token, then ``prime``'s tokens (an unfinished line: no end-of-line added)."""
    return [EOL if level == "char" else EOS] + tokenize(prime, level, add_eol=False)


def generate_text(model, vocab, level, prime="", length=200, temperature=1.0, greedy=False, seed=0):
    """Text continuing ``prime`` (Shakespeare-like text from a char model, say).

    Generation starts after an end-of-line token followed by ``prime``'s tokens, as if
    ``prime`` began a new line of the corpus. Returns ``prime`` + the generated text.
    """
    ids = generate(model, vocab.encode(_line_start(prime, level)), length, temperature, greedy, seed)
    generated = detokenize(vocab.decode(ids[0]), level)
    return prime + ("" if level == "char" or not prime else " ") + generated


def generate_lines(model, vocab, level, num_lines=10, max_length=40, temperature=1.0, prime="",
                   greedy=False, seed=0):
    """``num_lines`` new lines (e.g. names from a names corpus), each generated from an
    end-of-line token (+ ``prime``) up to the next end-of-line token or ``max_length`` tokens."""
    start = _line_start(prime, level)
    end = start[0]
    ids = generate(model, vocab.encode(start), max_length, temperature, greedy, seed, num_lines)
    lines = []
    for row in ids:
        tokens = vocab.decode(row)
        if end in tokens:
            tokens = tokens[: tokens.index(end)]
        text = detokenize(tokens, level)  # no end-of-line token left: the words or characters joined
        lines.append(prime + ("" if level == "char" or not prime or not text else " ") + text)
    return lines


def novelty(generated, training_lines):
    """Fraction of the non-empty generated lines that are not in ``training_lines``."""
    known = {line.strip() for line in training_lines}
    lines = [line.strip() for line in generated if line.strip()]
    if not lines:
        return 0.0
    return sum(line not in known for line in lines) / len(lines)
