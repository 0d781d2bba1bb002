"""BPMN behaviours: what processors share to run process instances (element lifecycles, element
behaviours by kind, variables and mappings, jobs of tasks, incidents, termination).

See `lifecycle.py` for how a command runs elements, and `elements.py` for what each kind of
element does."""
