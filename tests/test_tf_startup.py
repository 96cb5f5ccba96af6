"""TensorFlow's start-up lines stay off stderr (core.tf_startup); every other line is passed on."""

import subprocess
import sys

from tests.test_cli import ROOT

FILTERED = """
import os
from core.tf_startup import filtered_stderr
with filtered_stderr():
    os.write(2, b"I0000 00:00:1.0  1 port.cc:153] oneDNN custom operations are on.\\n")
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"kept: a line of the app\\n")
    os.write(2, b"E0000 00:00:1.0  1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\\n")
    os.write(2, b"E0000 00:00:1.0  1 some_op.cc:7] a real error\\n")
os.write(2, b"after\\n")
"""


def _stderr(code: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, **env})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stderr


def test_only_the_startup_lines_are_left_out_and_the_rest_comes_in_order():
    assert _stderr(FILTERED) == "kept: a line of the app\nE0000 00:00:1.0  1 some_op.cc:7] a real error\nafter\n"


def test_importing_tensorflow_and_running_an_op_writes_nothing_to_stderr():
    code = "import core, tensorflow as tf; assert float(tf.reduce_sum(tf.ones(3))) == 3.0"
    assert _stderr(code) == ""
