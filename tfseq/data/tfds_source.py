"""Text from any TensorFlow Datasets (TFDS) dataset, e.g. ``tfds:tiny_shakespeare``.

Each example's text feature is one document of one or more lines; documents are joined
so that every example ends a line (word level: ``<eos>``, char level: ``"\\n"``). Splits map
to train / valid / test by name (``train``; ``validation``, ``valid``, ``val`` or ``dev``;
``test``), or explicitly with TFDS split strings such as ``{"valid": "train[90%:]"}``.
``tensorflow_datasets`` is imported only when a TFDS source is used.
"""

from tfseq.data.text import DataSourceError

VALID_SPLIT_NAMES = ("validation", "valid", "val", "dev")


def text_feature(features, text_key=None):
    """The name of the text feature in a TFDS ``FeaturesDict``.

    ``text_key`` if given (must exist); else the only string feature, or ``"text"`` when
    there are several.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    keys = list(features.keys())
    if text_key is not None:
        if text_key not in keys:
            raise DataSourceError(f"text_key {text_key!r} is not a feature of this dataset (features: {keys})")
        return text_key
    def is_string(feature):
        if isinstance(feature, tfds.features.Text):
            return True
        return isinstance(feature, tfds.features.Tensor) and feature.tf_dtype == tf.string and feature.shape == ()

    strings = [k for k in keys if is_string(features[k])]
    if len(strings) == 1:
        return strings[0]
    if "text" in strings:
        return "text"
    raise DataSourceError(f"cannot tell which feature is the text among {strings or keys}; pass text_key=")


def split_names(available, splits=None):
    """Maps ``{"train", "valid", "test"}`` to TFDS split names; absent parts map to ``None``."""
    chosen = {"train": "train" if "train" in available else None, "valid": None, "test": None}
    chosen["valid"] = next((s for s in VALID_SPLIT_NAMES if s in available), None)
    chosen["test"] = "test" if "test" in available else None
    for part, name in (splits or {}).items():
        if part not in chosen:
            raise ValueError(f"splits keys must be 'train', 'valid' or 'test', got {part!r}")
        chosen[part] = name
    if chosen["train"] is None:
        raise DataSourceError(f"no 'train' split (splits: {sorted(available)}); pass splits={{'train': ...}}")
    return chosen


def load_tfds_texts(name, data_dir=None, text_key=None, splits=None, download=True):
    """Reads a TFDS dataset's text, one string per part.

    Args:
        name: the TFDS name, optionally with config/version (``"tiny_shakespeare"``).
        data_dir: the TFDS data directory (default: TFDS's own, ``~/tensorflow_datasets``).
        text_key: the text feature; auto-detected when ``None`` (see :func:`text_feature`).
        splits: optional ``{"train"|"valid"|"test": tfds split string}`` overrides.
        download: prepare the dataset (download) if it is not in ``data_dir`` yet.

    Returns:
        ``({"train": str, "valid": str or None, "test": str or None}, feature_name)``.

    Raises:
        DataSourceError: unknown dataset, not prepared and cannot be downloaded (offline),
            no text feature, or text that is not UTF-8.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # tfds raises its own DatasetNotFoundError and friends
        raise DataSourceError(f"tfds:{name}: {str(err).splitlines()[0]}") from err
    if not builder.is_prepared():
        if not download:
            raise DataSourceError(f"tfds:{name}: not prepared in {builder.data_dir}")
        try:
            builder.download_and_prepare()
        except ImportError as err:
            # e.g. tensorflow-datasets 4.9.x needs `importlib_resources` on Python >= 3.9 but
            # declares it only for < 3.9 (tensorflow/datasets#11212)
            raise DataSourceError(
                f"tfds:{name}: preparing the dataset needs the missing module {err.name!r} "
                f"(pip install {(err.name or '').replace('_', '-')})"
            ) from err
        except Exception as err:
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise DataSourceError(
                f"tfds:{name}: cannot download and prepare ({first}); offline? Run "
                f"`tfds build {name} --data_dir DIR` where online, copy DIR here and pass data_dir=DIR"
            ) from err
    key = text_feature(builder.info.features, text_key)
    parts = split_names(set(builder.info.splits.keys()), splits)
    texts = {}
    for part, split in parts.items():
        texts[part] = None if split is None else _read_split(builder, name, split, key)
    return texts, key


def _read_split(builder, name, split, key):
    import tensorflow_datasets as tfds

    try:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
    except Exception as err:
        raise DataSourceError(f"tfds:{name}: cannot read split {split!r} ({str(err).splitlines()[0]})") from err
    pieces = []
    for i, example in enumerate(tfds.as_numpy(dataset)):
        value = example[key]
        try:
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError as err:
            raise DataSourceError(f"tfds:{name}: example {i} of split {split!r} is not UTF-8 text") from err
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if text and not text.endswith("\n"):
            text += "\n"
        pieces.append(text)
    return "".join(pieces)
