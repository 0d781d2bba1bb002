"""A Zeebe-compatible gRPC gateway: Zeebe's clients (pyzeebe, zbctl, the Java, Go and Node
SDKs) talk to raybee unchanged.

- `server.py`: the gRPC server (the `gateway_protocol.Gateway` service from the published
  protocol classes in pyzeebe, the standard health service, size limit, TLS, token check);
- `servicer.py` and one module per RPC family (`cluster`, `processes`, `jobs`, `messages`);
- `statuses.py`: raybee's refusals as the gRPC statuses Zeebe's clients expect;
- `json_documents.py`: variables and headers as JSON object strings;
- `security.py`: TLS credentials and the bearer-token check;
- `backend.py`: the one way in - raybee's client library (AsyncClient and its Router);
  `ray_backend.py` connects it to a Ray cluster, `inprocess.py` is the test backend (one
  partition in this process);
- `command.py`: `raybee gateway`; `threaded.py`: a gateway in a background thread.
"""
