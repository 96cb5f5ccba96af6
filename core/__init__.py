"""Plain-Python core of the neural-network playground.

Nothing in this package imports Streamlit. Heavy modules (TensorFlow, Keras) are imported
by the sub-modules that need them, never here, so that ``import core`` stays instant.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
