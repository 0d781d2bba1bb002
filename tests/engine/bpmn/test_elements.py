"""Element by element: events, tasks, gateways, embedded sub-processes."""

from raybee.partitions.protocol import (
    IncidentIntent,
    JobIntent,
    ProcessInstanceIntent,
    RecordType,
    RejectionType,
    ValueType,
)
from raybee.partitions.testing import create_instance, set_variables

DONE = ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED", "ELEMENT_COMPLETING", "ELEMENT_COMPLETED"]


def run_to_end(bpmn, *job_types, variables=None):
    """Complete jobs of these types, in rounds, until none is left."""
    while sum(bpmn.work(t, variables) for t in job_types):
        pass


# ---------------------------------------------------------------------- events and tasks
def test_automatic_elements_complete_at_once(bpmn, xml):
    body = (
        xml.start()
        + xml.plain("manual", "manualTask")
        + xml.plain("undefined", "task")
        + xml.plain("throw", "intermediateThrowEvent")
        + xml.end()
        + xml.chain("start", "manual", "undefined", "throw", "end")
    )
    bpmn.deploy(xml.process("auto", body))
    key = bpmn.create("auto")
    for element in ("manual", "undefined", "throw", "end", "auto"):
        assert bpmn.lifecycle(element) == DONE, element
    assert bpmn.completed(key)


def test_send_user_and_business_rule_tasks_are_jobs(bpmn, xml):
    body = (
        xml.start()
        + xml.task("send", "mail", kind="sendTask")
        + xml.plain("user", "userTask")
        + xml.task("rule", "decide", kind="businessRuleTask")
        + xml.end()
        + xml.chain("start", "send", "user", "rule", "end")
    )
    bpmn.deploy(xml.process("jobs", body))
    key = bpmn.create("jobs")
    assert bpmn.work("mail") == 1
    ((user_job, job),) = bpmn.activate("io.camunda.zeebe:userTask")
    assert job.element_id == "user"
    bpmn.complete(user_job)
    assert bpmn.work("decide") == 1
    assert bpmn.completed(key)


def test_a_script_task_sets_its_result_variable(bpmn, xml):
    body = (
        xml.start()
        + xml.script("calc", "=a * 2 + 0.5", "doubled")
        + xml.script("mapped", "=doubled + 1", "tmp", outputs=[("=tmp * 10", "final")])
        + xml.end()
        + xml.chain("start", "calc", "mapped", "end")
    )
    bpmn.deploy(xml.process("script", body))
    key = bpmn.create("script", {"a": 3})
    assert bpmn.completed(key)
    variables = {
        r.value.name: r.value.value
        for r in bpmn.records(ValueType.VARIABLE)
        if r.value.scope_key == key
    }
    assert variables == {"a": 3, "doubled": 6.5, "final": 75}, "tmp stayed local, mapped out"


def test_a_terminate_end_event_ends_its_scope_and_everything_in_it(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("fork", "parallel")
        + xml.task("waiting", "slow")
        + xml.end("stop", "<bpmn:terminateEventDefinition/>")
        + xml.chain("start", "fork", "waiting")
        + xml.flow("fork", "stop")
    )
    bpmn.deploy(xml.process("term", body))
    key = bpmn.create("term")
    assert bpmn.lifecycle("stop") == DONE
    assert bpmn.lifecycle("waiting")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.records(ValueType.JOB, JobIntent.CANCELED), "its job went with it"
    assert bpmn.completed(key), "the process completes (not terminated)"


def test_an_error_end_event_with_no_catch_leaves_an_incident(bpmn, xml):
    body = (
        xml.start()
        + xml.end("fail", '<bpmn:errorEventDefinition errorRef="err"/>')
        + xml.chain("start", "fail")
    )
    bpmn.deploy(xml.process("thrower", body, extra='<bpmn:error id="err" errorCode="E42"/>'))
    bpmn.create("thrower")
    ((_, incident),) = bpmn.incidents()
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    assert "'E42'" in incident.error_message and incident.element_id == "fail"


# ---------------------------------------------------------------------- exclusive gateway
def exclusive(xml):
    body = (
        xml.start()
        + xml.gateway("choose", default="to-c")
        + xml.task("a", "a")
        + xml.task("b", "b")
        + xml.task("c", "c")
        + xml.gateway("merge")
        + xml.end()
        + xml.flow("start", "choose")
        + xml.flow("choose", "a", "=x &gt; 10")
        + xml.flow("choose", "b", "=x &gt; 5")
        + xml.flow("choose", "c", flow_id="to-c")
        + xml.chain("a", "merge")
        + xml.chain("b", "merge")
        + xml.chain("c", "merge", "end")
    )
    return xml.process("xor", body)


def test_an_exclusive_gateway_takes_the_first_true_condition_else_the_default(bpmn, xml):
    bpmn.deploy(exclusive(xml))
    for x, taken in ((20, "a"), (7, "b"), (1, "c"), (None, "c")):
        key = bpmn.create("xor", {"x": x})
        assert bpmn.work(taken) == 1, (x, taken)
        assert bpmn.completed(key), "the merge passes each token on"
    assert not bpmn.incidents()


def test_an_exclusive_gateway_without_a_match_or_default_raises_condition_error(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("choose")
        + xml.end("yes")
        + xml.end("no")
        + xml.flow("start", "choose")
        + xml.flow("choose", "yes", "=ok = true")
        + xml.flow("choose", "no", "=ok = false")
    )
    bpmn.deploy(xml.process("xor", body))
    key = bpmn.create("xor")
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "CONDITION_ERROR" and incident.element_id == "choose"
    assert bpmn.lifecycle("choose") == ["ELEMENT_ACTIVATING"], "stays where it failed"
    # Set the variable, resolve: the gateway is tried again and goes on.
    assert bpmn.execute(set_variables(key, {"ok": False})).record_type == RecordType.EVENT
    assert bpmn.resolve(incident_key).intent == IncidentIntent.RESOLVED
    assert bpmn.lifecycle("no") == DONE and bpmn.completed(key)
    assert not bpmn.incidents()


def test_a_condition_that_is_not_a_boolean_is_an_extract_value_error(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("choose", default="d")
        + xml.end("yes")
        + xml.end("no")
        + xml.flow("start", "choose")
        + xml.flow("choose", "yes", '="text"')
        + xml.flow("choose", "no", flow_id="d")
    )
    bpmn.deploy(xml.process("xor", body))
    bpmn.create("xor")
    ((_, incident),) = bpmn.incidents()
    assert incident.error_type == "EXTRACT_VALUE_ERROR"
    assert "BOOLEAN" in incident.error_message and '"text"' in incident.error_message


# ---------------------------------------------------------------------- parallel gateway
def test_a_parallel_gateway_forks_and_joins_once_every_branch_arrived(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("fork", "parallel")
        + xml.task("a", "a")
        + xml.task("b", "b")
        + xml.plain("c", "manualTask")
        + xml.gateway("join", "parallel")
        + xml.task("after", "after")
        + xml.end()
        + xml.chain("start", "fork")
        + xml.chain("fork", "a", "join")
        + xml.chain("fork", "b", "join")
        + xml.chain("fork", "c", "join")
        + xml.chain("join", "after", "end")
    )
    bpmn.deploy(xml.process("and", body))
    key = bpmn.create("and")
    assert bpmn.work("a") == 1
    assert bpmn.lifecycle("join") == [], "c and a arrived; b has not"
    assert bpmn.work("b") == 1
    assert bpmn.lifecycle("join") == DONE, "joined once"
    assert bpmn.work("after") == 1
    assert bpmn.completed(key)
    scope = bpmn.records(ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_COMPLETED)
    assert sum(1 for r in scope if r.value.element_id == "join") == 1


def test_a_token_waiting_at_a_join_that_cannot_fire_keeps_the_process_open(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("choose", default="d")
        + xml.gateway("join", "parallel")
        + xml.end()
        + xml.flow("start", "choose")
        + xml.flow("choose", "join", "=false", flow_id="never")
        + xml.flow("choose", "join", flow_id="d")
        + xml.chain("join", "end")
    )
    bpmn.deploy(xml.process("stuck", body))
    key = bpmn.create("stuck")
    assert not bpmn.completed(key), "as in Zeebe: the join waits for its other flow"
    assert bpmn.instance(key).joins == {"join": {"d": 1}}


# ---------------------------------------------------------------------- inclusive gateway
def inclusive(xml):
    body = (
        xml.start()
        + xml.gateway("fork", "inclusive", default="to-c")
        + xml.task("a", "a")
        + xml.task("b", "b")
        + xml.task("c", "c")
        + xml.gateway("join", "inclusive")
        + xml.task("after", "after")
        + xml.end()
        + xml.flow("start", "fork")
        + xml.flow("fork", "a", "=x &gt; 1")
        + xml.flow("fork", "b", "=x &gt; 2")
        + xml.flow("fork", "c", flow_id="to-c")
        + xml.chain("a", "join")
        + xml.chain("b", "join")
        + xml.chain("c", "join")
        + xml.chain("join", "after", "end")
    )
    return xml.process("or", body)


def test_an_inclusive_gateway_takes_every_true_flow_and_joins_what_it_took(bpmn, xml):
    bpmn.deploy(inclusive(xml))
    key = bpmn.create("or", {"x": 3})
    assert bpmn.activate("c") == [], "the default is not taken when a condition holds"
    assert bpmn.work("a") == 1
    assert bpmn.lifecycle("join") == [], "b can still arrive"
    assert bpmn.work("b") == 1
    assert bpmn.lifecycle("join") == DONE
    bpmn.work("after")
    assert bpmn.completed(key)


def test_an_inclusive_join_with_one_branch_taken_fires_when_it_arrives(bpmn, xml):
    bpmn.deploy(inclusive(xml))
    key = bpmn.create("or", {"x": 2})
    assert bpmn.work("a") == 1
    assert bpmn.lifecycle("join") == DONE
    bpmn.work("after")
    key_default = bpmn.create("or", {"x": 0})
    assert bpmn.work("c") == 1 and bpmn.work("after") == 1
    assert bpmn.completed(key) and bpmn.completed(key_default)


def test_an_inclusive_join_fires_when_the_other_token_ends_elsewhere(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("fork", "parallel")
        + xml.task("a", "a")
        + xml.task("b", "b")
        + xml.gateway("choose", default="away")
        + xml.gateway("join", "inclusive")
        + xml.end("elsewhere")
        + xml.end()
        + xml.chain("start", "fork")
        + xml.chain("fork", "a", "join")
        + xml.chain("fork", "b", "choose")
        + xml.flow("choose", "join", "=back")
        + xml.flow("choose", "elsewhere", flow_id="away")
        + xml.chain("join", "end")
    )
    bpmn.deploy(xml.process("or2", body))
    key = bpmn.create("or2", {"back": False})
    bpmn.work("a")
    assert bpmn.lifecycle("join") == [], "b may still come back to the join"
    bpmn.work("b")
    assert bpmn.lifecycle("elsewhere") == DONE
    assert bpmn.lifecycle("join") == DONE, "nothing can arrive any more"
    assert bpmn.completed(key)


# ---------------------------------------------------------------------- sub-processes
def test_embedded_sub_processes_nest_and_complete_their_parents(bpmn, xml):
    inner = xml.sub_process(
        "inner",
        xml.start("s2") + xml.task("deep", "deep") + xml.end("e2") + xml.chain("s2", "deep", "e2"),
    )
    outer = xml.sub_process(
        "outer",
        xml.start("s1") + inner + xml.end("e1") + xml.chain("s1", "inner", "e1"),
        inputs=[("=1", "local")],
        outputs=[("=local + 1", "out")],
    )
    bpmn.deploy(
        xml.process("nest", xml.start() + outer + xml.end() + xml.chain("start", "outer", "end"))
    )
    bpmn.create("nest")
    ((job_key, job),) = bpmn.activate("deep")
    assert job.variables == {"local": 1}
    outer_key = bpmn.instance(bpmn.instance(job.element_instance_key).flow_scope_key).flow_scope_key
    assert bpmn.variables(outer_key) == {"local": 1}
    bpmn.complete(job_key)
    assert [bpmn.lifecycle(e) for e in ("inner", "outer", "nest")] == [DONE] * 3
    assert bpmn.records(ValueType.VARIABLE)[-1].value.name == "out"


def test_a_loop_without_a_wait_state_is_refused_and_leaves_nothing(bpmn, xml, monkeypatch):
    from raybee.partitions.engine.bpmn_behaviors import executor

    monkeypatch.setattr(executor, "ELEMENT_ACTIVATIONS_PER_COMMAND_MAX", 300)  # a faster test
    body = (
        xml.start()
        + xml.gateway("again")
        + xml.plain("spin", "manualTask")
        + xml.chain("start", "again", "spin", "again")
    )
    bpmn.deploy(xml.process("loop", body))
    before = [row for row in bpmn.partition.store.dump() if row[0] != "positions"]
    answer = bpmn.execute(create_instance("loop"))
    assert answer.rejection_type == RejectionType.PROCESSING_ERROR
    assert "wait state" in answer.rejection_reason
    assert [row for row in bpmn.partition.store.dump() if row[0] != "positions"] == before
