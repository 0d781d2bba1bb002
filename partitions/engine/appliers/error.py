"""Appliers of ERROR events: the record is the report; state does not change."""


def created(state, record):
    pass
