"""The execute tier of the shared BPMN corpus (`../shared/bpmn/README.md`): these processes run
to completion with job workers completing every job, and, where a flow needs a variable, the
test supplies it as a worker would; messages are published and timers fire as the fake clock
is advanced. Files are read from ../shared/bpmn, never copied."""

import pytest

from raybee.partitions.protocol import (
    MessageIntent,
    MessageRecordValue,
    ProcessInstanceIntent,
    Record,
    RecordType,
    ValueType,
)

USER_TASK = "io.camunda.zeebe:userTask"
DAY_MS = 24 * 3600 * 1000


def deploy_file(bpmn, shared_bpmn, name: str) -> dict[str, int]:
    return bpmn.deploy((shared_bpmn / name).read_bytes(), name=name.split("/")[-1])


def run_jobs(bpmn, workers: dict) -> list[str]:
    """Act as job workers until no job of these types is left: `workers` maps a job type to the
    variables its worker completes with (or a function of the job giving them). Returns the
    element ids whose jobs were completed, in order."""
    done = []
    while True:
        progressed = False
        for job_type, answer in workers.items():
            for job_key, job in bpmn.activate(job_type):
                variables = answer(job) if callable(answer) else answer
                bpmn.complete(job_key, variables)
                done.append(job.element_id)
                progressed = True
        if not progressed:
            return done


def publish(bpmn, name: str, correlation_key: str, variables=None):
    return bpmn.execute(
        Record(
            ValueType.MESSAGE,
            MessageIntent.PUBLISH,
            MessageRecordValue(
                name=name,
                correlation_key=correlation_key,
                time_to_live_ms=60_000,
                variables=variables or {},
            ),
        )
    )


def test_order_process_runs_its_three_service_tasks_with_headers(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "clients/order-process-4.bpmn")
    key = bpmn.create("order-process-4", {"orderId": 42})
    headers = {}

    def worker(job):
        headers[job.element_id] = job.custom_headers
        return {f"{job.type}-done": True}

    done = run_jobs(
        bpmn, {"payment-service": worker, "inventory-service": worker, "shipment-service": worker}
    )
    assert done == ["collect-money", "fetch-items", "ship-parcel"]
    assert headers["collect-money"] == {"method": "VISA"}
    assert bpmn.completed(key)


def test_nested_sub_processes_run_both_branches_and_join(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "clients/nested-subprocesses.bpmn")
    key = bpmn.create("rootProcess")
    done = run_jobs(bpmn, {USER_TASK: {}})
    assert len(done) == 5, done  # two branches of nested user tasks, then "Ship Items"
    assert done[-1] == "parallelGateway_withoutContent"
    join = "sid-7412307A-1A0F-43BA-933B-6E84157B4E5B"
    assert bpmn.lifecycle(join).count("ELEMENT_COMPLETED") == 1
    assert bpmn.completed(key)
    sub_processes = [
        r
        for r in bpmn.element_records(ProcessInstanceIntent.ELEMENT_COMPLETED)
        if r.value.bpmn_element_type == "SUB_PROCESS"
    ]
    assert len(sub_processes) == 6


def vacation_workers(decision: str, manager: str | None = None) -> dict:
    employee = {"name": "Ann", "email": "ann@example.com", "days": 20}
    workers = {
        "http": {"body": {"value": [employee, {"name": "somebody else"}]}},
        "DMN": {"Vacation Approval Status": {"Approval": decision, "Reason": "policy"}},
        "emailService": lambda job: {"sent": job.variables["mailSubject"]},
        "update": {"updated": True},
    }
    if manager is not None:
        workers[USER_TASK] = {"Vacation Approval": manager, "Reason": "manager"}
    return workers


@pytest.mark.parametrize(
    ("decision", "manager", "path", "subject"),
    [
        (
            "Approved",
            None,
            ["_2b960d84", "_1a818a94", "_93ec9873", "_4b72053b"],
            "Vacation Approved",
        ),
        ("Refused", None, ["_2b960d84", "_1a818a94", "_9ed61a6a"], "Vacation Denied"),
        (
            "Manual Validation Required",
            "Approved",
            ["_2b960d84", "_1a818a94", "_79523269", "_a97c1a48", "_5e16a4e0"],
            "Vacation Approved",
        ),
    ],
)
def test_vacation_request_c_8_1_takes_the_path_its_variables_choose(
    bpmn, shared_bpmn, decision, manager, path, subject
):
    deploy_file(bpmn, shared_bpmn, "miwg/C.8.1.bpmn")
    key = bpmn.create(
        "VacationRequestProcess",
        {"Employee Badge Number": 7, "From": "2026-07-01", "To": "2026-07-14"},
    )
    done = run_jobs(bpmn, vacation_workers(decision, manager))
    assert [element[:9] for element in done] == path
    assert bpmn.completed(key)
    sent = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "mailSubject"]
    assert sent[-1].value.value == subject
    status = [
        r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "Current Vacation Status"
    ]
    assert status[0].value.value["name"] == "Ann", "body.value[1]: FEEL lists count from 1"
    assert not bpmn.incidents()


def test_pyzeebe_test_starts_by_message_and_maps_its_io(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "clients/pyzeebe-test.bpmn")
    answer = publish(bpmn, "start_test_process", "", {"input": 5, "should_throw": False})
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    ((job_key, job),) = bpmn.activate("test")
    assert job.variables["input"] == 5
    bpmn.complete(job_key, {"output": 6})
    (process,) = [
        r
        for r in bpmn.element_records(ProcessInstanceIntent.ELEMENT_COMPLETED)
        if r.value.bpmn_element_type == "PROCESS"
    ]
    assert process.value.bpmn_process_id == "test"


def test_c_9_1_document_request_waits_for_the_answer_message(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.1.bpmn")
    key = bpmn.create("requestDocument_en", {"documentReferenceId": "doc-1"})
    assert run_jobs(bpmn, {"email": {}}) == ["SendTask_RequestDocument"]
    answer = publish(bpmn, "MESSAGE_documentReceived", "doc-1", {"document": "scan.pdf"})
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    assert bpmn.completed(key)


def test_c_9_1_reminds_daily_and_calls_after_a_week(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.1.bpmn")
    key = bpmn.create("requestDocument_en", {"documentReferenceId": "doc-2"})
    run_jobs(bpmn, {"email": {}})
    day_ms = 24 * 3600 * 1000
    reminders = 0
    for _ in range(7):
        bpmn.clock.advance(day_ms + 1)
        bpmn.partition.tick()
        reminders += run_jobs(bpmn, {"email": {}}).count("SendTask_SendReminderEmail")
    assert reminders == 6, "R6/P1D: six reminders"
    assert run_jobs(bpmn, {USER_TASK: {}}) == ["UserTask_CallCustomer"]
    assert bpmn.completed(key)


def test_c_9_2_manual_check_requests_documents_through_c_9_1(bpmn, shared_bpmn):
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.1.bpmn")
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.2.bpmn")
    key = bpmn.create(
        "ManualCheck",
        {
            "risks": ["age"],
            "applicant": {"name": "Bo", "age": 70},
            "documentReferenceId": "case-9",
            "documents": ["id", "income"],
            "fraudSuspectedId": "case-9",
        },
    )
    answer = publish(bpmn, "Message_DocumentRequested", "case-9")
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    assert run_jobs(bpmn, {"email": {}}).count("SendTask_RequestDocument") == 2, "one per document"
    for document in ("id", "income"):
        publish(bpmn, "MESSAGE_documentReceived", "case-9", {"document": document})
    assert run_jobs(bpmn, {USER_TASK: {}}) == ["UserTask_DecideOnApplication"]
    assert bpmn.completed(key)


def manual_check(bpmn, shared_bpmn) -> int:
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.1.bpmn")
    deploy_file(bpmn, shared_bpmn, "miwg/C.9.2.bpmn")
    return bpmn.create(
        "ManualCheck",
        {
            "risks": ["age", "income"],
            "applicant": {"name": "Bo", "age": 70},
            "documentReferenceId": "case-9",
            "documents": [],
            "fraudSuspectedId": "case-9",
        },
    )


def test_c_9_2_after_five_days_the_decision_is_accelerated_beside_the_main_flow(bpmn, shared_bpmn):
    key = manual_check(bpmn, shared_bpmn)
    ((_, job),) = bpmn.activate(USER_TASK)
    assert job.variables["risksText"] == "age, income", "input mappings of the user task"
    assert job.custom_headers["io.camunda.zeebe:candidateGroups"] == '["clerks"]'
    bpmn.clock.advance(5 * DAY_MS)
    bpmn.partition.tick()  # R1/P5D: the non-interrupting timer event sub-process, once
    assert run_jobs(bpmn, {"notifyCustomerDelay": {}}) == ["SendTask_NotifyCustomerDelay"]
    done = run_jobs(bpmn, {USER_TASK: {"approved": True}})
    assert sorted(done) == ["UserTask_AccelerateDecision", "UserTask_DecideOnApplication"]
    assert bpmn.completed(key) and not bpmn.incidents()


def test_c_9_2_a_suspected_fraud_that_is_confirmed_ends_in_an_uncaught_error(bpmn, shared_bpmn):
    key = manual_check(bpmn, shared_bpmn)
    answer = publish(bpmn, "Message_FraudSuspected", "case-9")
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    jobs = {job.element_id: job_key for job_key, job in bpmn.activate(USER_TASK)}
    assert set(jobs) == {"UserTask_DecideOnApplication", "UserTask_CheckForFraud"}
    bpmn.complete(jobs["UserTask_CheckForFraud"], {"fraud": True})
    # Error 02 is thrown in the event sub-process; nothing in ManualCheck catches it.
    ((_, incident),) = bpmn.incidents()
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    assert incident.element_id == "ErrorEndEvent_FraudDetected"
    assert not bpmn.completed(key)


def test_c_9_2_a_decision_not_taken_in_seven_days_times_out(bpmn, shared_bpmn):
    key = manual_check(bpmn, shared_bpmn)
    bpmn.clock.advance(7 * DAY_MS)
    bpmn.partition.tick()  # the accelerating timer (day 5) and the timeout (day 7) both fire
    assert bpmn.lifecycle("UserTask_DecideOnApplication")[-1] == "ELEMENT_TERMINATED"
    ((_, incident),) = bpmn.incidents()
    assert incident.element_id == "ErrorEndEvent_Timeout"
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    assert not bpmn.completed(key)
