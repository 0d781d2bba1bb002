"""The README's driver script: deploy a process, run its job workers, start orders and read
their results. With no Ray running, `raybee.connect()` starts a local cluster (three Ray nodes
on 127.0.0.1, one broker each, three partitions replicated three times) and stops it on close.

    .venv/bin/python docs/examples/orders.py
"""

from pathlib import Path

import raybee

ORDERS = 6

with raybee.connect() as client:
    deployment = client.deploy(Path(__file__).with_name("order.bpmn"))
    print("deployed", [(p["bpmn_process_id"], p["version"]) for p in deployment.processes])

    @client.worker("payment", concurrency=8)
    def pay(job):
        # The returned dict completes the job with these variables; an exception would fail it
        # (retries - 1, back-off) and `raise raybee.BpmnError("CODE")` would throw a BPMN error.
        return {"paid": job.variables["amount"] % 3 != 0}

    @client.worker("shipping")
    def ship(job):
        return {"carrier": "bee-express"}

    for order_id in range(ORDERS):
        result = client.create_instance_with_result(
            "order", {"orderId": order_id, "amount": 100 * order_id}
        )
        shipped = result.variables.get("trackingId", "not shipped")
        print(f"order {order_id} amount {100 * order_id}: {shipped}")
