"""Training under tf.distribute.MirroredStrategy over two logical CPU devices (a stand-in for two GPUs)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from core.registry import get_task
from core.training import get_strategy, run_training
strategy = get_strategy("mirrored")
result = run_training(get_task("iris"), {"epochs": 8}, strategy="mirrored")
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "status": result.status,
                  "accuracy": result.metrics.get("test_accuracy"), "error": result.error}))
"""


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_learns(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NN_PLAYGROUND_RUNS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["status"] == "done", result["error"]
    assert result["accuracy"] >= 0.9


@pytest.mark.slow
def test_auto_strategy_is_default_without_gpus():
    script = ("from core.training import get_strategy; import tensorflow as tf; "
              "print(get_strategy('auto') is tf.distribute.get_strategy())")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]
