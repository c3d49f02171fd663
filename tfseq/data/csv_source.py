"""Numeric tables from CSV files: feature columns and one target column (for regression).

The first row is the header (column names). Every other non-blank row must have one field
per column, and every field must be a finite number. Anything else raises
:class:`~tfseq.data.text.DataSourceError` (a ``ValueError``) whose one-line message names
the file, the line (1-based, as an editor shows it) and the column, so a command-line tool
can print it as is::

    data.csv: line 4, column 'height': not a number: 'n/a'

Example:
    >>> from tfseq.data import read_csv_table
    >>> table = read_csv_table("houses.csv", target="price")
    >>> table.features.shape, table.feature_names        # (N, F) float64, the other columns
"""

import csv
import dataclasses
import math
import os

import numpy as np

from tfseq.data.text import DataSourceError


@dataclasses.dataclass(frozen=True)
class CsvTable:
    """A numeric table: ``features`` ``[N, F]`` and ``targets`` ``[N]`` (float64)."""

    path: str
    feature_names: tuple
    target_name: str
    features: np.ndarray  # [N, F]
    targets: np.ndarray  # [N]


def _read_rows(path):
    """``[(line number, fields)]`` of a UTF-8 CSV file, blank lines skipped."""
    if not os.path.exists(path):
        raise DataSourceError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataSourceError(f"{path}: is a directory, expected a CSV file")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            try:
                for fields in reader:
                    if any(field.strip() for field in fields):
                        rows.append((reader.line_num, fields))
            except csv.Error as err:
                raise DataSourceError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
    except UnicodeDecodeError as err:
        raise DataSourceError(f"{path}: not UTF-8 text (invalid byte at offset {err.start})") from None
    except OSError as err:
        raise DataSourceError(f"{path}: cannot read ({err.strerror or err})") from None
    return rows


def _number(path, line, column, field):
    try:
        value = float(field)
    except ValueError:
        raise DataSourceError(f"{path}: line {line}, column {column!r}: not a number: {field!r}") from None
    if not math.isfinite(value):
        raise DataSourceError(f"{path}: line {line}, column {column!r}: not a finite number: {field!r}")
    return value


def read_csv_table(path, target, features=None):
    """Reads a numeric CSV file with a header row.

    Args:
        path: the CSV file (UTF-8, comma-separated, first row = column names).
        target: the name of the column to predict.
        features: the names of the input columns, or ``None`` for every other column.

    Returns:
        A :class:`CsvTable` (float64 arrays, rows in file order).

    Raises:
        DataSourceError: (a ``ValueError``) the file is missing, empty or not UTF-8; the
            header lacks ``target`` or a feature, or repeats a name; a row has another
            number of fields than the header (ragged); a field is not a finite number; there
            are no data rows or no feature columns. The message names the file, the line and
            the column.
    """
    path = os.fspath(path)
    if not isinstance(target, str) or not target:
        raise ValueError(f"target must be a column name, got {target!r}")
    rows = _read_rows(path)
    if not rows:
        raise DataSourceError(f"{path}: line 1: the file is empty, expected a header row of column names")
    header_line, header = rows[0]
    header = [name.strip() for name in header]
    for index, name in enumerate(header):
        if not name:
            raise DataSourceError(f"{path}: line {header_line}, column {index + 1}: empty column name")
        if name in header[:index]:
            raise DataSourceError(f"{path}: line {header_line}, column {index + 1}: column {name!r} appears twice")
    if features is None:
        features = [name for name in header if name != target]
    for name in [target, *features]:
        if name not in header:
            raise DataSourceError(
                f"{path}: line {header_line}: no column {name!r} (the columns are {', '.join(header)})")
    if not features:
        raise DataSourceError(f"{path}: line {header_line}: no feature column besides the target {target!r}")
    data = rows[1:]
    if not data:
        raise DataSourceError(f"{path}: no data rows after the header (line {header_line})")
    columns = [header.index(name) for name in features] + [header.index(target)]
    values = np.empty((len(data), len(columns)), np.float64)
    for row, (line, fields) in enumerate(data):
        if len(fields) < len(header):
            raise DataSourceError(f"{path}: line {line}, column {header[len(fields)]!r}: missing "
                                  f"({len(fields)} fields, the header on line {header_line} has {len(header)})")
        if len(fields) > len(header):
            raise DataSourceError(f"{path}: line {line}, column {len(header) + 1}: extra field "
                                  f"({len(fields)} fields, the header on line {header_line} has {len(header)})")
        for out, column in enumerate(columns):
            values[row, out] = _number(path, line, header[column], fields[column].strip())
    return CsvTable(path=path, feature_names=tuple(features), target_name=target,
                    features=values[:, :-1], targets=values[:, -1])
