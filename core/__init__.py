"""Plain-Python core of the neural-network playground.

Nothing in this package imports Streamlit. Heavy modules (TensorFlow, Keras) are imported
by the sub-modules that need them, never here, so that ``import core`` stays instant.
"""

import os
from pathlib import Path

from core.keras_extras import leave_out
from core.tf_startup import quiet_startup

# Keep TensorFlow's C++ chatter out of the CLI and the server log (set before it is imported); the lines its
# libraries write while they load ignore this variable, and are left out by core.tf_startup instead.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet_startup()

# TensorFlow's oneDNN kernels. TensorFlow switches them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX;
# on an AVX2-only CPU they still train the CNN about twice as fast as its default (Eigen) kernels
# (`python -m core bench cnn`). Like the line above, this works only if `core` is imported before TensorFlow.
# NN_PLAYGROUND_TF_DEFAULTS=1 leaves TensorFlow's own choice: the bench measures the portfolio's baseline so.
if not os.environ.get("NN_PLAYGROUND_TF_DEFAULTS"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# Keras's optional extras (IPython, matplotlib, scikit-learn, pandas) stay out of its own import: 1.4 s and 167 MB
# per TensorFlow process (core.keras_extras). Like the lines above, this works only if `core` comes before TensorFlow.
# NN_PLAYGROUND_KERAS_EXTRAS=1 keeps them (Keras's scikit-learn wrappers, DataFrames given to fit; README measures).
if not os.environ.get("NN_PLAYGROUND_KERAS_EXTRAS"):
    leave_out()

PROJECT_ROOT = Path(__file__).resolve().parent.parent
