"""Choosing and checking the named columns of tabular data."""


class MissingColumnsError(ValueError):
    """Named feature columns the data does not have (``missing``, among ``available``)."""

    def __init__(self, message, missing, available):
        super().__init__(message)
        self.missing = missing
        self.available = available


def resolve_columns(names, target, weight, features, numeric, where=None):
    """The feature columns, after checking that every named column exists.

    Parameters
    ----------
    names : list of str
        The columns the data has.
    target, weight : str or None
    features : str, list of str or None
        None takes every column but the target and the weight for which
        ``numeric(name)`` holds.
    where : str, optional
        The data, as named in error messages.
    """
    place = f" in {where}" if where else ""
    available = f"available columns: {', '.join(map(str, names))}"
    for role, name in (("target", target), ("weight", weight)):
        if name is not None and name not in names:
            raise ValueError(f"{role} column {name!r} not found{place}; {available}")
    if target is not None and target == weight:
        raise ValueError(f"column {target!r} cannot be both the target and the weight")
    if features is None:
        return [n for n in names if n not in (target, weight) and numeric(n)]
    features = [features] if isinstance(features, str) else list(features)
    if not features:
        raise ValueError(f"features is empty{place}; name at least one feature column")
    missing = [n for n in features if n not in names]
    if missing:
        raise MissingColumnsError(
            f"feature column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not found{place}; {available}",
            missing, list(names),
        )
    repeated = sorted({n for n in features if features.count(n) > 1})
    if repeated:
        raise ValueError(f"feature column{'s' if len(repeated) > 1 else ''} {', '.join(map(repr, repeated))} listed twice")
    for role, name in (("target", target), ("weight", weight)):
        if name is not None and name in features:
            raise ValueError(f"column {name!r} is the {role}; it cannot also be a feature")
    if target is not None and target == weight:
        raise ValueError(f"column {target!r} cannot be both the target and the weight")
    return features
