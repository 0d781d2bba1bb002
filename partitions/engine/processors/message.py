"""MESSAGE PUBLISH and EXPIRE, on the partition of the message's correlation key (see
bpmn_behaviors/messages.py for the correlation rules)."""

from raybee.partitions.protocol import MessageIntent, RejectionType, evolve

from ..bpmn_behaviors import messages
from ..bpmn_behaviors.executor import Executor
from ..bpmn_behaviors.start_events import correlate_to_start_events
from ..context import ProcessingContext


class PublishMessage:
    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        problem = messages.publish_problem(ctx, request)
        if problem:
            return ctx.reject(*problem)
        store = ctx.state.messages
        if request.message_id:
            earlier = store.by_id(request.name, request.correlation_key, request.message_id)
            if earlier is not None and messages.is_live(store.get(earlier), ctx.now_ms):
                return ctx.reject(
                    RejectionType.ALREADY_EXISTS,
                    f"Expected to publish a new message, but a message with name "
                    f"'{request.name}', correlation key '{request.correlation_key}' and message "
                    f"id '{request.message_id}' is buffered (key '{earlier}')",
                )
        key = ctx.next_key()
        message = evolve(request, deadline_ms=ctx.now_ms + request.time_to_live_ms)
        ctx.respond(ctx.append_event(key, MessageIntent.PUBLISHED, message))
        executor = Executor(ctx)
        correlate_to_start_events(executor, key, message)
        executor.drain()
        messages.correlate_to_subscriptions(ctx, key, message)


class ExpireMessage:
    def process(self, command, ctx: ProcessingContext) -> None:
        messages.expire(ctx, command)
