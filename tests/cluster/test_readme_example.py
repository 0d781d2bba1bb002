"""The README's driver script (docs/examples/orders.py) runs as a user runs it: a plain
`python docs/examples/orders.py` with no Ray running starts the embedded cluster, deploys
docs/examples/order.bpmn, runs its workers and prints each order's result; the gateway of the
BPMN (`= paid and amount <= 1000`) and the output mapping of the shipping task decide it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

SCRIPT = Path(__file__).parents[2] / "docs" / "examples" / "orders.py"
SCRIPT_TIMEOUT_S = 200


def test_the_readme_driver_script_runs_orders_on_the_embedded_cluster():
    # Its own session, so a hung script is killed with every process it started.
    script = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = script.communicate(timeout=SCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(script.pid, signal.SIGKILL)
        out, err = script.communicate()
        pytest.fail(f"orders.py ran over {SCRIPT_TIMEOUT_S} s\n{out}\n{err[-3000:]}")
    assert script.returncode == 0, err[-3000:]
    assert "deployed [('order', 1)]" in out
    for order_id in range(6):
        amount = 100 * order_id
        paid = amount % 3 != 0  # what the payment worker decides
        shipped = f"T-{order_id}" if paid else "not shipped"
        assert f"order {order_id} amount {amount}: {shipped}\n" in out, out
