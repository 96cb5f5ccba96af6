"""Plain-Python core of the neural-network playground.

Nothing in this package imports Streamlit. Heavy modules (TensorFlow, Keras) are imported
by the sub-modules that need them, never here, so that ``import core`` stays instant.
"""

import os
from pathlib import Path

# Keep TensorFlow's C++ start-up chatter out of the CLI and the server log (set before it is imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
