"""TIMER TRIGGER (due work proposes it when a timer is due): the timer fires - a timer start
event starts an instance, any other triggers the event its element instance waits for
(bpmn_behaviors/events.py). A cycle's next repetition is created first."""

from raybee.partitions.protocol import RejectionType, TimerIntent

from ..bpmn_behaviors.events import trigger
from ..bpmn_behaviors.executor import Executor
from ..bpmn_behaviors.start_events import start_instance
from ..bpmn_behaviors.timers import is_start_timer, repeat
from ..bpmn_entries import ElementState
from ..context import ProcessingContext


class TriggerTimer:
    def process(self, command, ctx: ProcessingContext) -> None:
        key = command.key
        timer = ctx.state.timers.get(key)
        if timer is None:
            return ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected to trigger timer with key '{key}', but no such timer was found",
            )
        if timer.due_date_ms > ctx.now_ms:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected timer '{key}' to be due, but it is due at {timer.due_date_ms}, after "
                f"{ctx.now_ms}",
            )
        executor = Executor(ctx)
        if is_start_timer(timer):
            process = ctx.state.processes.get(timer.process_definition_key)
            ctx.append_event(key, TimerIntent.TRIGGERED, timer)
            repeat(ctx, timer, process, {}, executor.now)
            start_instance(executor, process, timer.target_element_id, None)
            executor.drain()
            return
        owner = ctx.state.element_instances.get(timer.element_instance_key)
        if owner is None or owner.state != ElementState.ACTIVATED:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected element instance '{timer.element_instance_key}' of timer '{key}' to "
                f"wait, but it is {'gone' if owner is None else owner.state.value}",
            )
        ctx.append_event(key, TimerIntent.TRIGGERED, timer)
        process = executor.process_of(owner)
        repeat(ctx, timer, process, executor.variables_of(timer.element_instance_key), executor.now)
        trigger(executor, timer.element_instance_key, timer.target_element_id, None)
        executor.drain()
