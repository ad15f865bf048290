"""Data sources: everything the solver reads arrives through the source protocol."""

from .arrays import ArraySource
from .arrow import ArrowSource
from .base import Block, LocalSource, Source
from .dataset import Dataset
from .open import open_dataset

__all__ = ["ArraySource", "ArrowSource", "Block", "Dataset", "LocalSource", "Source", "open_dataset"]
