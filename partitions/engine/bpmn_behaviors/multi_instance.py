"""Multi-instance activities: a MULTI_INSTANCE_BODY element instance with the activity's id
wraps one inner instance of the activity per item of the input collection.

- The body evaluates the input collection (a list, else EXTRACT_VALUE_ERROR) when activated; an
  empty list completes it at once. With an output collection, the body gets it as a local
  variable of nulls, one per item.
- Inner instances get the local variables `loopCounter` (1, 2, ...) and the input element (the
  item). Parallel: all are queued at once; sequential: the next when one completes (the input
  collection is evaluated again for it).
- When an inner instance completes, its output element (evaluated in its view) is written at
  its loopCounter in the body's output collection; then the completion condition (if any) is
  evaluated in the body's view plus `numberOfInstances`, `numberOfCompletedInstances` and
  `numberOfActiveInstances` (given to the expression, not stored as variables: fewer records
  than Zeebe, which stores them on the body). If it holds, the active inner instances are
  terminated and the body completes; otherwise the body completes when no inner instance is
  left to run.
- The body's completion propagates the output collection from the body's flow scope; then the
  activity's outgoing flows are taken.
"""

from raybee.partitions.engine.feel import to_json_value

from ..bpmn_entries import ElementState
from .expressions import EXTRACT_VALUE_ERROR, StepFailed, condition_holds, evaluate, evaluate_list
from .variables import set_local

LOOP_COUNTER = "loopCounter"


def activate_body(executor, key: int, node, process) -> None:
    loop = node.multi_instance
    items = _items(executor, key, node, process)
    executor.activated(key)
    if loop.output_collection is not None:
        set_local(executor, key, {loop.output_collection: [None] * len(items)})
    if not items:
        executor.complete(key)
    elif loop.is_sequential:
        _queue_inner(executor, key, 0, items[0])
    else:
        for index, item in enumerate(items):
            _queue_inner(executor, key, index, item)


def _items(executor, key: int, node, process) -> list:
    items = evaluate_list(
        process,
        node.multi_instance.input_collection,
        executor.variables_of(key),
        executor.now,
        "input collection",
    )
    return [to_json_value(item) for item in items]


def _queue_inner(executor, body_key: int, index: int, item) -> None:
    executor.count_pending(body_key, 1)
    executor.later(_activate_inner, executor, body_key, index, item)


def _activate_inner(executor, body_key: int, index: int, item) -> None:
    executor.count_pending(body_key, -1)
    body = executor.instances.get(body_key)
    if body is None or body.state != ElementState.ACTIVATED:
        return  # the body completed early or was terminated
    process = executor.process_of(body)
    node = process.node(body.value.element_id)
    local = {}
    if node.multi_instance.input_element is not None:
        local[node.multi_instance.input_element] = item
    local[LOOP_COUNTER] = index + 1
    executor.activate(process, body_key, body.value, node, local, inner=True)


def collect_output_element(executor, inner_key: int, body_key: int, node, process) -> None:
    loop = node.multi_instance
    value = evaluate(
        process, loop.output_element, executor.variables_of(inner_key), executor.now,
        EXTRACT_VALUE_ERROR,
    )  # fmt: skip
    counter = executor.state.variables.local(inner_key).get(LOOP_COUNTER)
    collection = list(executor.state.variables.local(body_key).get(loop.output_collection) or [])
    if type(counter) is not int or counter < 1:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the inner instance of '{node.id}' to have a loopCounter, found {counter!r}",
        )
    collection.extend([None] * (counter - len(collection)))
    collection[counter - 1] = to_json_value(value)
    set_local(executor, body_key, {loop.output_collection: collection})


def inner_completed(executor, body_key: int) -> None:
    """An inner instance completed (or a failed completion condition is retried)."""
    body = executor.instances.get(body_key)
    if body is None or body.state != ElementState.ACTIVATED:
        return
    process = executor.process_of(body)
    node = process.node(body.value.element_id)
    loop = node.multi_instance
    active, created = body.children, body.loop_counter
    try:
        items = _items(executor, body_key, node, process) if loop.is_sequential else None
        if loop.completion_condition is not None:
            total = len(items) if items is not None else created + executor.pending(body_key)
            view = {
                **executor.variables_of(body_key),
                "numberOfInstances": total,
                "numberOfCompletedInstances": created - active,
                "numberOfActiveInstances": active,
            }
            if condition_holds(
                process, loop.completion_condition, view, executor.now, "completion condition"
            ):
                for child in executor.instances.children(body_key):
                    executor.terminate(child)
                executor.complete(body_key)
                return
    except StepFailed as failure:
        executor.incident(body_key, failure)
        return
    if active or executor.pending(body_key):
        return
    if items is not None and created < len(items):
        _queue_inner(executor, body_key, created, items[created])
    else:
        executor.complete(body_key)
