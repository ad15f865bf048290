"""scikit-learn's estimator protocol without importing scikit-learn."""

import inspect


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``repr`` read from ``__init__``'s signature.

    As in scikit-learn, ``__init__`` only stores its arguments under the same
    names; validation waits for ``fit``. This is all ``sklearn.base.clone``,
    ``Pipeline`` and grid search need.
    """

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(name for name in signature.parameters if name != "self")

    def get_params(self, deep=True):
        """Parameters of this estimator, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set parameters by name; return the estimator."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters are {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so importing it here costs nothing.
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        tags = Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=True),
                    input_tags=InputTags(sparse=True))
        if self._estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags(multi_class=True)
        else:
            tags.regressor_tags = RegressorTags()
        return tags


class available_if:
    """Decorate a method that exists only while ``check(estimator)`` holds.

    Otherwise reading it raises AttributeError (so ``hasattr`` is False), as
    scikit-learn's ``available_if`` does: meta-estimators look for
    ``predict_proba`` that way.
    """

    def __init__(self, check, reason):
        self.check = check
        self.reason = reason

    def __call__(self, method):
        self.method = method
        self.__doc__ = method.__doc__
        return self

    def __get__(self, estimator, owner=None):
        if estimator is None:
            return self
        if not self.check(estimator):
            raise AttributeError(self.reason(estimator))
        return self.method.__get__(estimator, owner)


def signature_with(init, extra=(), **defaults):
    """``init``'s signature with some defaults replaced and keyword-only ``extra`` added.

    Lets a subclass whose ``__init__`` changes a default or adds a parameter
    keep the full, introspectable parameter list that ``get_params`` and
    ``clone`` read.
    """
    signature = inspect.signature(init)
    parameters = [
        p.replace(default=defaults[p.name]) if p.name in defaults else p
        for p in signature.parameters.values()
    ]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in extra
    ]
    return signature.replace(parameters=parameters)


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b
