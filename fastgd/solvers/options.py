"""How to descend: the solver's settings, already validated, and the rate schedules."""

import math
from dataclasses import dataclass

from ..optim.rules import RULES

SCHEDULES = ("constant", "invscaling", "exponential", "cosine", "plateau")
#: Full-batch solvers that are not update rules.
SOLVERS = ("accelerated", "lbfgs", "exact")


@dataclass(frozen=True)
class Options:
    """How to descend: the solver's settings, already validated."""

    batch_size: int | None = None
    learning_rate: float | str = "auto"
    #: An update rule's name (:data:`~fastgd.optim.rules.RULES`) or a solver in :data:`SOLVERS`.
    optimizer: str = "sgd"
    schedule: str = "constant"
    line_search: bool = False
    #: Epochs of a fit, and the horizon of the cosine schedule.
    max_iter: int = 1000
    tol: float | None = 1e-10
    #: The ``tol`` of a mini-batch fit whose batch holds every row in one
    #: exactly shuffled unit (no gradient noise), or None to keep ``tol``.
    whole_batch_tol: float | None = None
    n_iter_no_change: int = 5
    #: True (exact if the source allows random row access, else block),
    #: "exact", "block" or False.
    shuffle: bool | str = True
    #: Rows of the block-shuffle buffer; None for the default.
    shuffle_buffer: int | None = None
    random_state: object = None
    verbose: int = 0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    power_t: float = 0.25
    lr_decay: float = 0.9
    plateau_factor: float = 0.5
    callbacks: tuple = ()
    #: ``optimizer="auto"`` chose L-BFGS or FISTA with ``learning_rate="auto"``:
    #: least squares then takes the exact solver where it is fastest (see
    #: :func:`~fastgd.solvers.driver.solver_for`).
    auto: bool = False
    #: The penalty has an L1 share: the epochs that follow an exact solve are FISTA's, not L-BFGS's.
    l1: bool = False

    @property
    def full_batch(self):
        return self.batch_size is None

    @property
    def rule(self):
        """The update rule, or None for the solvers that are not rules."""
        return RULES.get(self.optimizer)

    @property
    def in_kernel_power(self):
        """``power_t`` where the mini-batch kernel applies ``invscaling`` per step, else 0."""
        return self.power_t if self.schedule == "invscaling" and not self.full_batch else 0.0


def schedule_factor(options, epoch):
    """The rate multiplier of the ``epoch``-th epoch (counting from 1, across calls).

    ``"cosine"`` goes from 1 down over ``max_iter`` epochs and then stays at its
    last, positive value (epochs beyond ``max_iter`` come from ``partial_fit``).
    In mini-batch modes ``"invscaling"`` works per step, inside the epoch
    kernel; ``"plateau"`` works by cutting the base rate.
    """
    if options.schedule == "exponential":
        return options.lr_decay ** (epoch - 1)
    if options.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch - 1, options.max_iter - 1) / options.max_iter))
    if options.schedule == "invscaling" and options.full_batch:
        return epoch ** -options.power_t
    return 1.0
