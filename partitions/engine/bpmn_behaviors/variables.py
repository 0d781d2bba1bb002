"""Variables of process instances: set locally on a scope, propagated up the scope chain, and
input/output mappings (Zeebe's rules, from its docs "Variables" and "Input/output variable
mappings").

- `set_local(scope, document)`: every variable is written on that scope.
- `propagate(scope, document)`: each variable updates the nearest scope, from `scope` up to
  the process instance, that already defines it, else it is created on the process instance.
- Input mappings are evaluated (in the element's view of variables) when the element is
  activated and set as its local variables. Output mappings are evaluated when it completes (in
  its view, which holds what a job, a child process or a script gave it) and propagated from its
  flow scope. Without output mappings, what a job, child process or script gives an element is
  propagated from the element's own scope (so a variable that an input mapping made local stays
  local and ends with the element, as in Zeebe).
- A mapping target may be a dotted path `a.b.c`: the variable `a` becomes a context with that
  entry set, keeping the other entries of the value `a` had in view.
- A variable is written (CREATED or UPDATED, keeping its key) only when its value changes.
"""

from collections.abc import Mapping

from raybee.partitions.engine.bpmn import VariableMapping
from raybee.partitions.engine.feel import to_json_value
from raybee.partitions.protocol import VariableIntent, VariableRecordValue

from ..bpmn_entries import encode_json, replaced
from .expressions import IO_MAPPING_ERROR, StepFailed, evaluate

VARIABLE_DOCUMENT_BYTES_MAX = 4 * 1024 * 1024
_SCALARS = frozenset({str, int, float, bool, type(None)})
_VARIABLE = VariableRecordValue(name="")


def same_value(old, new) -> bool:
    """Equal as JSON (1 and 1.0 and True are three values here)."""
    if type(old) in _SCALARS or type(new) in _SCALARS:
        return type(old) is type(new) and old == new
    return encode_json(old) == encode_json(new)


def set_local(executor, scope_key: int, document: Mapping) -> None:
    if not document:
        return
    base = executor.instances.get(scope_key).value
    for name, value in document.items():
        _write(executor, scope_key, name, value, base)


def propagate(executor, scope_key: int, document: Mapping) -> None:
    if not document:
        return
    chain = [key for key, _ in executor.instances.scope_chain(scope_key)]
    base = executor.instances.get(scope_key).value
    variables = executor.state.variables
    for name, value in document.items():
        target = chain[-1]
        for key in chain:
            scope = variables.document(key)
            if scope is not None and name in scope.values:
                target = key
                break
        _write(executor, target, name, value, base)


def _write(executor, scope_key: int, name: str, value, base) -> None:
    scope = executor.state.variables.document(scope_key)
    if scope is not None and name in scope.values:
        if same_value(scope.values[name], value):
            return
        key, intent = scope.keys[name], VariableIntent.UPDATED
    else:
        key, intent = executor.ctx.next_key(), VariableIntent.CREATED
    executor.ctx.append_event(
        key,
        intent,
        replaced(
            _VARIABLE,
            name=name,
            value=value,
            scope_key=scope_key,
            process_instance_key=base.process_instance_key,
            process_definition_key=base.process_definition_key,
            bpmn_process_id=base.bpmn_process_id,
            tenant_id=base.tenant_id,
        ),
    )


def evaluate_mappings(
    executor, process, mappings: tuple[VariableMapping, ...], key: int, kind: str
) -> dict:
    """The document the mappings give, evaluated in the view of element instance `key`;
    StepFailed (IO_MAPPING_ERROR) when one fails."""
    view = executor.variables_of(key)
    result: dict = {}
    for mapping in mappings:
        try:
            value = evaluate(process, mapping.source, view, executor.now, IO_MAPPING_ERROR)
        except StepFailed as failure:
            raise StepFailed(
                IO_MAPPING_ERROR,
                f"Failed to map the {kind} variable '{mapping.target}': {failure.message}",
            ) from None
        set_path(result, mapping.target, to_json_value(value), view)
    return result


def set_path(result: dict, target: str, value, view: Mapping) -> None:
    """result[target] = value, where target may be a dotted path into a context."""
    if "." not in target:
        result[target] = value
        return
    root, *middle, last = target.split(".")
    base = result[root] if root in result else view.get(root)
    base = dict(base) if isinstance(base, dict) else {}
    result[root] = base
    for part in middle:
        inner = base.get(part)
        inner = dict(inner) if isinstance(inner, dict) else {}
        base[part] = inner
        base = inner
    base[last] = value
