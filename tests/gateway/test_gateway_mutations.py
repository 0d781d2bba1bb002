"""The gateway's fast tests (the translations on their own, and bad requests against a gateway
on the in-process backend: no Ray cluster) catch known bugs: each mutant below plants one
classic mistake in actors/gateway/ - a refusal mapped to the wrong gRPC status, a document
that is not a JSON object accepted as variables, a request check off by one, activated jobs
not handed back - and the tests named beside it must fail (tests/mutation_check.py runs them
in a fresh interpreter).

A mutant the tests let through is a hole in the tests, not in the code: add the test."""

import sys

import pytest

check_tools = sys.modules["raybee_tests_mutation_check"]  # loaded by tests/conftest.py

STATUSES = "raybee.actors.gateway.statuses:"
DOCUMENTS = "raybee.actors.gateway.json_documents:"
RPC = "raybee.actors.gateway.rpc:RpcBase."
JOBS = "raybee.actors.gateway.jobs:JobRpcs."
MAPPING_TESTS = ("tests/gateway/test_mapping.py",)
BAD_REQUESTS = "tests/gateway/test_bad_requests.py"
LONG_POLLS = "raybee.actors.gateway.long_polls:"
LONG_POLL_TESTS = ("tests/gateway/test_long_polls.py",)


check = check_tools.check

CHECKS = (
    check(
        "every_rejection_failed_precondition",
        "a rejected command is FAILED_PRECONDITION whatever its rejection type (NOT_FOUND, "
        "INVALID_ARGUMENT, ...)",
        MAPPING_TESTS,
        (
            STATUSES + "status_of",
            "code = REJECTION_STATUS.get(error.rejection_type, grpc.StatusCode.INTERNAL)",
            "code = grpc.StatusCode.FAILED_PRECONDITION",
        ),
    ),
    check(
        "unknown_outcome_said_unavailable",
        "a command that may have been applied is UNAVAILABLE (nothing happened) instead of "
        "DEADLINE_EXCEEDED",
        MAPPING_TESTS,
        (
            STATUSES + "status_of",
            "            grpc.StatusCode.DEADLINE_EXCEEDED,\n"
            '            f"Time out between gateway and partition',
            "            grpc.StatusCode.UNAVAILABLE,\n"
            '            f"Time out between gateway and partition',
        ),
    ),
    check(
        "backpressure_said_unavailable",
        "backpressure is UNAVAILABLE instead of RESOURCE_EXHAUSTED (clients do not back off)",
        MAPPING_TESTS,
        (
            STATUSES + "status_of",
            "            grpc.StatusCode.RESOURCE_EXHAUSTED,\n",
            "            grpc.StatusCode.UNAVAILABLE,\n",
        ),
    ),
    check(
        "json_array_accepted_as_variables",
        "a JSON array is accepted as a variables document",
        (*MAPPING_TESTS, BAD_REQUESTS),
        (
            DOCUMENTS + "parse_document",
            "if not isinstance(document, dict):",
            "if not isinstance(document, dict | list):",
        ),
    ),
    check(
        "non_finite_numbers_accepted",
        "NaN and Infinity are parsed into variables (not JSON; the engine's documents are)",
        (*MAPPING_TESTS, BAD_REQUESTS),
        (
            DOCUMENTS + "parse_document",
            "json.loads(text, parse_constant=_refuse_constant)",
            "json.loads(text)",
        ),
    ),
    check(
        "decimals_sent_as_strings",
        "numbers the engine holds as Decimal go out as JSON strings",
        MAPPING_TESTS,
        (
            DOCUMENTS + "_encode_other",
            "return int(value) if value == value.to_integral_value() else float(value)",
            "return str(value)",
        ),
    ),
    check(
        "negative_key_not_refused",
        "a key check that only refuses 0 (the unset protobuf field): negative keys go on",
        (BAD_REQUESTS,),
        (RPC + "_key", "        if key < 1:\n", "        if key == 0:\n"),
    ),
    check(
        "zero_max_jobs_accepted",
        "a positive-number check off by one: maxJobsToActivate=0 is accepted",
        (BAD_REQUESTS,),
        (RPC + "_positive", "        if value < 1:\n", "        if value < 0:\n"),
    ),
    check(
        "late_jobs_not_handed_back",
        "jobs activated after the caller's deadline are dropped, not handed back: they wait "
        "out their timeout unseen",
        (f"{BAD_REQUESTS}::test_jobs_activated_after_the_callers_deadline_are_handed_back",),
        (
            JOBS + "ActivateJobs",
            "        if not done:\n            self._hand_back_later(activation)\n",
            "        if not done:\n",
        ),
    ),
    check(
        "parked_poll_never_probes",
        "a parked long poll waits for a hand-back through this gateway only: a job a broker "
        "handed back (or one waiting from before the streams opened) is never found",
        LONG_POLL_TESTS,
        (
            LONG_POLLS + "LongPolls.activate",
            "due = state.may_have_jobs or now - state.asked_at >= self.probe_s",
            "due = state.may_have_jobs",
        ),
    ),
    check(
        "parked_poll_answers_before_its_timeout",
        "a long poll that found nothing answers at once instead of at its request timeout",
        LONG_POLL_TESTS,
        (
            LONG_POLLS + "LongPolls.activate",
            "            if now >= deadline:\n",
            "            if True:\n",
        ),
    ),
    check(
        "hand_back_wakes_nobody",
        "jobs handed back through the gateway do not wake the parked polls of their type",
        LONG_POLL_TESTS,
        (LONG_POLLS + "LongPolls.handed_back", "            state.wake()\n", ""),
    ),
    check(
        "filled_request_taken_for_empty",
        "a round that filled its request counts the type as emptied: the jobs left wait for "
        "the next probe",
        LONG_POLL_TESTS,
        (
            LONG_POLLS + "LongPolls._round",
            "len(jobs) >= jobs_max or not answered_everywhere",
            "not answered_everywhere",
        ),
    ),
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_the_fast_tests_catch(check):
    check_tools.expect_caught(check, __file__)
