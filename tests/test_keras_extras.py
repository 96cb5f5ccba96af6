"""Keras's optional extras stay out of a TensorFlow process of the project, and nothing else changes."""

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys
import core, keras, numpy as np
left_out = sorted(m for m in ("IPython", "matplotlib", "sklearn", "pandas") if m in sys.modules)
from sklearn.datasets import load_iris  # the project's own import still loads scikit-learn
import pandas
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
data = load_iris()
loss = model.fit(data.data.astype("float32"), data.target, epochs=1, verbose=0).history["loss"][0]
print(json.dumps({"loaded_by_keras": left_out, "pandas": bool(pandas.__version__), "loss": float(loss)}))
"""


def test_keras_imports_none_of_its_extras_and_trains_on_arrays():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded_by_keras"] == [] and result["pandas"] and result["loss"] > 0, result
