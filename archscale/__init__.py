"""archscale: architecture-aware initialisation and learning rates for DAG networks.

Pure Python (no torch at import). ``archscale.training`` holds the torch layer.
"""

__version__ = "0.1.0"
