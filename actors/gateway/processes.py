"""Deployments, process instances, variables and incidents.

Resources are told apart by their name, as Zeebe does: `.bpmn` and `.xml` are BPMN and go to
the engine (which refuses a malformed model with every problem it found); `.dmn` and `.form`
are refused here with a clear message, since raybee runs neither decisions nor forms; any
other suffix is refused as an unsupported resource type.
"""

import grpc
from pyzeebe.proto import gateway_pb2 as pb

from raybee.actors.gateway.json_documents import parse_document, to_json
from raybee.actors.gateway.rpc import RESULT_TIMEOUT_MS_DEFAULT, RpcBase, unary
from raybee.actors.gateway.statuses import GatewayError, unimplemented
from raybee.partitions.protocol import DEFAULT_TENANT, NO_KEY

BPMN_SUFFIXES = (".bpmn", ".xml")
REFUSED_RESOURCES = {
    ".dmn": "DMN decisions are not supported by raybee (no decision engine)",
    ".form": "forms are not supported by raybee (it has no user task forms)",
}
LATEST_VERSION = -1


def _bpmn_resources(resources: list[tuple[str, bytes]], rpc: str) -> list[tuple[str, bytes]]:
    problems = []
    for name, _ in resources:
        lowered = name.lower()
        if lowered.endswith(BPMN_SUFFIXES):
            continue
        refused = next((why for s, why in REFUSED_RESOURCES.items() if lowered.endswith(s)), None)
        problems.append(
            f"'{name}': {refused}"
            if refused
            else f"'{name}': Resource type is not supported. Supported resource types are: "
            f"{', '.join(BPMN_SUFFIXES)}"
        )
    if problems:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected to deploy new resources (gRPC request {rpc}), but encountered the "
            "following errors:\n" + "\n".join(problems),
        )
    return resources


def _process_metadata(process: dict) -> pb.ProcessMetadata:
    return pb.ProcessMetadata(
        bpmnProcessId=process["bpmn_process_id"],
        version=process["version"],
        processDefinitionKey=process["process_definition_key"],
        resourceName=process["resource_name"],
        tenantId=process.get("tenant_id", DEFAULT_TENANT),
    )


class ProcessRpcs(RpcBase):
    # ------------------------------------------------------------------ deployments
    @unary
    async def DeployResource(self, request, context):
        self._tenant(request.tenantId, "DeployResource")
        resources = _bpmn_resources(
            [(r.name, r.content) for r in request.resources], "DeployResource"
        )
        deployment = await self.backend.deploy(resources)
        return pb.DeployResourceResponse(
            key=deployment.key,
            deployments=[pb.Deployment(process=_process_metadata(p)) for p in deployment.processes],
            tenantId=DEFAULT_TENANT,
        )

    @unary
    async def DeployProcess(self, request, context):
        resources = _bpmn_resources(
            [(p.name, p.definition) for p in request.processes], "DeployProcess"
        )
        deployment = await self.backend.deploy(resources)
        return pb.DeployProcessResponse(
            key=deployment.key,
            processes=[_process_metadata(p) for p in deployment.processes],
        )

    # ------------------------------------------------------------------ instances
    def _creation(self, request, rpc: str) -> tuple[str, dict, int, int]:
        self._tenant(request.tenantId, rpc)
        if request.startInstructions:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to create a process instance at its none start event, but "
                f"{len(request.startInstructions)} start instructions were given; raybee does "
                "not support start instructions",
            )
        definition_key = NO_KEY
        if request.processDefinitionKey:
            definition_key = self._key(request.processDefinitionKey, "process definition", rpc)
        version = request.version if request.version >= 1 else LATEST_VERSION
        variables = parse_document(request.variables, rpc)
        return request.bpmnProcessId, variables, version, definition_key

    @unary
    async def CreateProcessInstance(self, request, context):
        process_id, variables, version, key = self._creation(request, "CreateProcessInstance")
        created = await self.backend.create_instance(process_id, variables, version, key)
        return pb.CreateProcessInstanceResponse(
            processDefinitionKey=created.process_definition_key,
            bpmnProcessId=created.bpmn_process_id,
            version=created.version,
            processInstanceKey=created.process_instance_key,
            tenantId=DEFAULT_TENANT,
        )

    @unary
    async def CreateProcessInstanceWithResult(self, request, context):
        rpc = "CreateProcessInstanceWithResult"
        process_id, variables, version, key = self._creation(request.request, rpc)
        timeout_ms = self._within_deadline(
            context,
            request.requestTimeout if request.requestTimeout > 0 else RESULT_TIMEOUT_MS_DEFAULT,
        )
        result = await self.backend.create_instance_with_result(
            process_id, variables, version, key, timeout_ms, list(request.fetchVariables)
        )
        return pb.CreateProcessInstanceWithResultResponse(
            processDefinitionKey=result.process_definition_key,
            bpmnProcessId=result.bpmn_process_id,
            version=result.version,
            processInstanceKey=result.process_instance_key,
            variables=to_json(result.variables),
            tenantId=DEFAULT_TENANT,
        )

    @unary
    async def CancelProcessInstance(self, request, context):
        key = self._key(request.processInstanceKey, "process instance", "CancelProcessInstance")
        await self.backend.cancel_instance(key)
        return pb.CancelProcessInstanceResponse()

    @unary
    async def SetVariables(self, request, context):
        key = self._key(request.elementInstanceKey, "element instance", "SetVariables")
        variables = parse_document(request.variables, "SetVariables")
        return pb.SetVariablesResponse(
            key=await self.backend.set_variables(key, variables, request.local)
        )

    @unary
    async def ResolveIncident(self, request, context):
        key = self._key(request.incidentKey, "incident", "ResolveIncident")
        await self.backend.resolve_incident(key)
        return pb.ResolveIncidentResponse()

    # ------------------------------------------------------------------ not in raybee
    @unary
    async def ModifyProcessInstance(self, request, context):
        raise unimplemented(
            "ModifyProcessInstance",
            "the engine has no process instance modification (activate or terminate "
            "elements of a running instance)",
        )

    @unary
    async def MigrateProcessInstance(self, request, context):
        raise unimplemented(
            "MigrateProcessInstance",
            "the engine has no process instance migration between process versions",
        )

    @unary
    async def DeleteResource(self, request, context):
        raise unimplemented(
            "DeleteResource",
            "the engine keeps every deployed process version (no resource deletion)",
        )

    @unary
    async def EvaluateDecision(self, request, context):
        raise unimplemented("EvaluateDecision", "raybee has no DMN decision engine")
