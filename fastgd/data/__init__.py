"""Data sources: everything the solver reads arrives as blocks of rows."""

from .arrays import ArraySource

__all__ = ["ArraySource"]
