"""Science verification: reproduce the paper's checks of its init and LR rules on real data.

Experiments (``rebench verify NAME``; docs/verification.md has the results):

* ``init``          E||z^(l)||^2 per vertex at init under target/source-degree and He init;
* ``mlp-depth``     predicted vs grid-searched maximal LR over MLP depths (App. D, Fig. 5);
* ``mlp-topology``  the same over MLP DAG topologies (§4.1, Fig. 2);
* ``cnn``           the same over CNN topologies x kernel sizes (§4.2, Fig. 3);
* ``mup``           NB201 cells trained with arch-aware vs muP vs standard scaling (App. E.3);
* ``nb201-lr``      predicted vs grid-searched maximal LR over NB201 cells (not in the paper);
* ``update-scale``  output / vertex change after one SGD step, standard vs arch-aware (rebuttal);
* ``topology``      MLP topology on a uniform DAG sample, released-code vs derivation networks.

This subpackage imports torch (``archscale`` itself stays torch-free).
"""

from __future__ import annotations

from . import experiments as _experiments  # noqa: F401  (registers init, mlp-depth, mlp-topology, cnn)
from . import mup_compare as _mup_compare  # noqa: F401  (registers mup)
from . import nb201_lr as _nb201_lr  # noqa: F401  (registers nb201-lr)
from . import topology_sample as _topology_sample  # noqa: F401  (registers topology)
from . import update_scale as _update_scale  # noqa: F401  (registers update-scale)
from .registry import EXPERIMENTS, Experiment, UnknownExperiment, get_experiment, run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "UnknownExperiment", "get_experiment", "run_experiment"]
