"""Reading files: their format by magic bytes, and read errors as clear ValueErrors."""

import pyarrow as pa


def magic(path):
    with open(path, "rb") as f:
        head = f.read(6)
    return head if head == b"ARROW1" else head[:4]


def reading(path, kind, read):
    try:
        return read()
    except (pa.ArrowException, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot read {kind} file '{path}' (truncated or corrupt?): {error}") from error
