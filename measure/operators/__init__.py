"""Numpy references of the operator corpus, one module per family; importing this package
registers them all in ``OPERATORS`` (see ``registry`` for the calling convention)."""

from measure.operators import attention, basic, conv, data, elementwise, linalg, norm, reductions  # noqa: F401
from measure.operators.registry import OPERATORS, OperatorError, OperatorFn, operator

__all__ = ["OPERATORS", "OperatorError", "OperatorFn", "operator"]
