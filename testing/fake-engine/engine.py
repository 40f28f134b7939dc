#!/usr/bin/env python3
"""A fake Camunda 7 engine-rest for jwtkit-proxy's end-to-end tests (standard library only).

It is a real HTTP server on 127.0.0.1 that enforces the engine's authentication contract
(HTTP Basic, or the HS256 JWT of the engine's JWT plugin, with its base64-decoded secret) and
answers the REST calls the FastAPI Clerk -> Camunda proxy made, with Camunda's JSON shapes and
error format. Test endpoints under /__test/ exercise the proxy's transport: echo, slow answers,
given statuses, a reset mid-body. See README.md.

Prints one line {"port": P} on stdout once listening. Exits when stdin closes, on SIGTERM or
SIGINT, and after --max-lifetime seconds.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ENGINE_CLAIMS = {"sub", "email", "isActive", "isSuperuser", "isVerified", "iat", "exp"}
# Claims the engine's JWT parser (jjwt, no issuer requirement) accepts and does not read:
# jwtkit-proxy marks the tokens it mints with an `iss` of its own.
OPTIONAL_CLAIMS = {"iss"}
VALUE_TYPES = {"String", "Boolean", "Integer", "Long", "Double", "Null", "Json", "Date"}
# Camunda's default date format, yyyy-MM-dd'T'HH:mm:ss.SSSZ (e.g. 2024-01-31T12:00:00.000+0000).
DATE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class EngineError(Exception):
    """An answer in Camunda's error format: {"type": ..., "message": ...}."""

    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def not_found(message):
    return EngineError(404, "InvalidRequestException", message)


def bad_request(message):
    return EngineError(400, "InvalidRequestException", message)


def unauthorized(message):
    return EngineError(401, "AuthenticationException", message)


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Store:
    """The engine's state: definitions, instances with their variables, tasks."""

    def __init__(self):
        self.lock = threading.Lock()
        self.definitions = {}
        for key, name in (("invoice", "Invoice Receipt"), ("order-process", "Order Process")):
            self.definitions[key] = {
                "id": f"{key}:1:{uuid.uuid4()}",
                "key": key,
                "category": "http://www.omg.org/spec/BPMN/20100524/MODEL",
                "description": None,
                "name": name,
                "version": 1,
                "resource": f"{key}.bpmn",
                "deploymentId": str(uuid.uuid4()),
                "diagram": None,
                "suspended": False,
                "tenantId": None,
                "versionTag": None,
                "historyTimeToLive": None,
                "startableInTasklist": True,
            }
        self.form_variables = {
            "invoice": {
                "amount": {"type": "Double", "value": 0.0, "valueInfo": {}},
                "creditor": {"type": "String", "value": "", "valueInfo": {}},
            },
            "order-process": {
                "customerName": {"type": "String", "value": None, "valueInfo": {}},
            },
        }
        self.instances = {}
        self.variables = {}
        self.tasks = {}
        seeded = self.start("invoice", {"amount": {"value": 30.0, "type": "Double"}}, "seed-1")
        task = next(t for t in self.tasks.values() if t["processInstanceId"] == seeded["id"])
        task["assignee"] = "demo"

    def definition(self, key):
        found = self.definitions.get(key)
        if found is None:
            raise not_found(f"No matching process definition with key: {key} and no tenant-id")
        return found

    def start(self, key, variables, business_key):
        definition = self.definition(key)
        with self.lock:
            instance_id = str(uuid.uuid4())
            instance = {
                "links": [],
                "id": instance_id,
                "definitionId": definition["id"],
                "businessKey": business_key,
                "caseInstanceId": None,
                "ended": False,
                "suspended": False,
                "tenantId": None,
            }
            self.instances[instance_id] = instance
            self.variables[instance_id] = dict(variables)
            task_id = str(uuid.uuid4())
            initiator = variables.get("initiator", {}).get("value")
            self.tasks[task_id] = {
                "id": task_id,
                "name": "Review " + definition["name"],
                "assignee": initiator if isinstance(initiator, str) else None,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
                "due": None,
                "followUp": None,
                "delegationState": None,
                "description": None,
                "executionId": instance_id,
                "owner": None,
                "parentTaskId": None,
                "priority": 50,
                "processDefinitionId": definition["id"],
                "processInstanceId": instance_id,
                "taskDefinitionKey": "review",
                "caseExecutionId": None,
                "caseInstanceId": None,
                "caseDefinitionId": None,
                "suspended": False,
                "formKey": None,
                "tenantId": None,
            }
            return instance

    def instance(self, instance_id):
        found = self.instances.get(instance_id)
        if found is None:
            raise not_found(f"Process instance with id {instance_id} does not exist")
        return found

    def task(self, task_id):
        found = self.tasks.get(task_id)
        if found is None:
            raise not_found(f"Cannot find task with id {task_id}: task is null")
        return found

    def complete(self, task_id, variables):
        with self.lock:
            task = self.task(task_id)
            del self.tasks[task_id]
            self.variables.setdefault(task["processInstanceId"], {}).update(variables)


def check_variables(what, body):
    """Validates Camunda typed variables {"name": {"value": ..., "type": ...}}; returns them."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request(f"{what}: variables must be a JSON object")
    checked = {}
    for name, variable in body.items():
        if not isinstance(variable, dict) or "value" not in variable:
            raise bad_request(f"{what}: variable '{name}' must be an object with value and type")
        kind = variable.get("type")
        value = variable["value"]
        if kind not in VALUE_TYPES:
            raise bad_request(f"{what}: Unsupported value type '{kind}' of variable '{name}'")
        ok = {
            "String": lambda v: v is None or isinstance(v, str),
            "Boolean": lambda v: v is None or isinstance(v, bool),
            "Integer": lambda v: v is None
            or (isinstance(v, int) and not isinstance(v, bool) and INT32[0] <= v <= INT32[1]),
            "Long": lambda v: v is None
            or (isinstance(v, int) and not isinstance(v, bool) and INT64[0] <= v <= INT64[1]),
            "Double": lambda v: v is None
            or (isinstance(v, (int, float)) and not isinstance(v, bool)),
            "Null": lambda v: v is None,
            # Camunda's Json type carries the document as a string.
            "Json": lambda v: v is None or isinstance(v, str),
            "Date": lambda v: v is None or (isinstance(v, str) and DATE_FORMAT.match(v)),
        }[kind](value)
        if not ok:
            raise bad_request(
                f"{what}: Cannot convert value '{value}' of variable '{name}' to type {kind}"
            )
        if kind == "Json" and value is not None:
            try:
                json.loads(value)
            except ValueError:
                raise bad_request(f"{what}: variable '{name}' of type Json is not valid JSON")
        checked[name] = {"type": kind, "value": value, "valueInfo": variable.get("valueInfo") or {}}
    return checked


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-camunda/7"

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.server.verbose:
            sys.stderr.write("engine: " + (format % args) + "\n")

    def read_body(self):
        """The whole request body (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line.endswith(b"\n"):
                    raise ConnectionResetError("the chunked body ended early")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ConnectionResetError("bad chunk size line")
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if not trailer.endswith(b"\n"):
                            raise ConnectionResetError("the chunked body ended early")
                        if trailer in (b"\r\n", b"\n"):
                            return b"".join(parts)
                chunk = self.rfile.read(size)
                if len(chunk) != size or not self.rfile.readline(3).endswith(b"\n"):
                    raise ConnectionResetError("the chunked body ended early")
                parts.append(chunk)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise ConnectionResetError("the body ended before Content-Length bytes")
        return body

    def send_json(self, status, value, extra_headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, header_value in extra_headers:
            self.send_header(name, header_value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_empty(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def record(self, body):
        split = urlsplit(self.path)
        self.server.last_request = {
            "method": self.command,
            "path": split.path,
            "query": split.query,
            "headers": [[name.lower(), value] for name, value in self.headers.items()],
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_length": len(body),
        }

    def handle_any(self):
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            if path == "/__test/last-request":
                self.read_body()
                self.send_json(200, self.server.last_request)
                return
            if path.startswith("/__test/"):
                self.test_endpoint(path, query)
                return
            body = self.read_body()
            self.record(body)
            self.authenticate()
            if path == "/engine-rest" or path.startswith("/engine-rest/"):
                self.engine(self.command, path[len("/engine-rest") :], query, body)
            else:
                raise not_found(f"no resource at {path}")
        except EngineError as err:
            headers = []
            if err.status == 401 and self.server.auth == "basic":
                headers.append(("WWW-Authenticate", 'Basic realm="default"'))
            self.send_json(err.status, {"type": err.kind, "message": err.message}, headers)
        except (BrokenPipeError, ConnectionResetError):
            # The peer went away or sent a broken body: nothing is recorded or answered.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self):
        header = self.headers.get("Authorization", "")
        if self.server.auth == "none":
            return
        if self.server.auth == "basic":
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic" or not value:
                raise unauthorized("Missing or malformed Basic credentials")
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise unauthorized("Malformed Basic credentials")
            if not (
                hmac.compare_digest(user, self.server.user)
                and hmac.compare_digest(password, self.server.password)
            ):
                raise unauthorized(f"Invalid credentials for user {user}")
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Missing JWT bearer token")
        parts = token.split(".")
        if len(parts) != 3:
            raise unauthorized("JWT strings must contain exactly 2 period characters")
        try:
            head = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            raise unauthorized("Malformed JWT")
        if not isinstance(head, dict) or head.get("alg") != "HS256":
            raise unauthorized(f"Unsupported JWT algorithm {head.get('alg') if isinstance(head, dict) else None}")
        expected = hmac.new(
            self.server.secret, (parts[0] + "." + parts[1]).encode(), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(expected, signature):
            raise unauthorized(
                "JWT signature does not match locally computed signature. JWT validity cannot be "
                "asserted and should not be trusted."
            )
        if not isinstance(claims, dict) or set(claims) - OPTIONAL_CLAIMS != ENGINE_CLAIMS:
            found = sorted(claims) if isinstance(claims, dict) else None
            raise unauthorized(
                f"JWT claims must be exactly {sorted(ENGINE_CLAIMS)} (plus optionally "
                f"{sorted(OPTIONAL_CLAIMS)}), got {found}"
            )
        if "iss" in claims and not isinstance(claims["iss"], str):
            raise unauthorized("JWT claim iss must be a string")
        for name in ("sub", "email"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise unauthorized(f"JWT claim {name} must be a non-empty string")
        for name in ("isActive", "isSuperuser", "isVerified"):
            if not isinstance(claims[name], bool):
                raise unauthorized(f"JWT claim {name} must be a boolean")
        for name in ("iat", "exp"):
            if not isinstance(claims[name], int) or isinstance(claims[name], bool):
                raise unauthorized(f"JWT claim {name} must be an integer")
        if claims["exp"] <= time.time():
            raise unauthorized("JWT expired")
        if not claims["isActive"]:
            raise unauthorized(f"User {claims['sub']} is not active")

    # -- engine-rest --------------------------------------------------------------------------

    def engine(self, method, path, query, body):
        store = self.server.store
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []

        def json_body():
            if not body:
                return {}
            try:
                value = json.loads(body)
            except ValueError:
                raise bad_request("the request body is not JSON")
            if not isinstance(value, dict):
                raise bad_request("the request body must be a JSON object")
            return value

        route = (method, *segments)
        if route == ("GET", "version"):
            return self.send_json(200, {"version": "7.20.0"})
        if route == ("GET", "process-definition"):
            found = list(store.definitions.values())
            if "key" in query:
                found = [d for d in found if d["key"] == query["key"]]
            return self.send_json(200, found)
        if len(segments) >= 3 and segments[:2] == ["process-definition", "key"]:
            key = segments[2]
            rest = tuple(segments[3:])
            if method == "GET" and rest == ():
                return self.send_json(200, store.definition(key))
            if method == "GET" and rest == ("form-variables",):
                store.definition(key)
                return self.send_json(200, store.form_variables.get(key, {}))
            if method == "POST" and rest == ("start",):
                request = json_body()
                definition = store.definition(key)
                what = f"Cannot instantiate process definition {definition['id']}"
                variables = check_variables(what, request.get("variables"))
                business_key = request.get("businessKey")
                if business_key is not None and not isinstance(business_key, str):
                    raise bad_request(f"{what}: businessKey must be a string")
                return self.send_json(200, store.start(key, variables, business_key))
        if route == ("GET", "process-instance"):
            found = list(store.instances.values())
            if "processDefinitionKey" in query:
                definition = store.definitions.get(query["processDefinitionKey"])
                wanted = definition["id"] if definition else None
                found = [i for i in found if i["definitionId"] == wanted]
            return self.send_json(200, found)
        if len(segments) >= 2 and segments[0] == "process-instance" and method == "GET":
            instance = store.instance(segments[1])
            if len(segments) == 2:
                return self.send_json(200, instance)
            if segments[2:] == ["variables"]:
                return self.send_json(200, store.variables.get(instance["id"], {}))
        if route == ("GET", "task"):
            found = list(store.tasks.values())
            for name in ("assignee", "processInstanceId"):
                if name in query:
                    found = [t for t in found if t[name] == query[name]]
            return self.send_json(200, found)
        if len(segments) >= 2 and segments[0] == "task":
            task = store.task(segments[1])
            if method == "GET" and len(segments) == 2:
                return self.send_json(200, task)
            if method == "GET" and segments[2:] == ["form-variables"]:
                return self.send_json(200, store.variables.get(task["processInstanceId"], {}))
            if method == "POST" and segments[2:] == ["complete"]:
                what = f"Cannot complete task {task['id']}"
                variables = check_variables(what, json_body().get("variables"))
                store.complete(task["id"], variables)
                return self.send_empty(204)
        raise not_found(f"no engine-rest resource {method} {path}")

    # -- test endpoints -----------------------------------------------------------------------

    def test_endpoint(self, path, query):
        if path == "/__test/echo" or path.startswith("/__test/echo/"):
            body = self.read_body()
            self.record(body)
            self.send_response(200)
            self.send_header(
                "Content-Type", self.headers.get("Content-Type", "application/octet-stream")
            )
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Echo-Sha256", hashlib.sha256(body).hexdigest())
            self.end_headers()
            if self.command != "HEAD":
                view = memoryview(body)
                for start in range(0, len(body), 65536):
                    self.wfile.write(view[start : start + 65536])
            return
        body = self.read_body()
        self.record(body)
        if path == "/__test/slow":
            ms = int(query.get("ms", "1000"))
            time.sleep(ms / 1000)
            return self.send_json(200, {"slept_ms": ms})
        if path.startswith("/__test/status/"):
            code = int(path.rsplit("/", 1)[1])
            return self.send_json(code, {"type": "TestStatus", "message": f"status {code}"})
        if path == "/__test/reset-mid-body":
            # Headers promising a body, part of it, then the connection ends.
            chunked = query.get("mode") == "chunked"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", "1000000")
            self.end_headers()
            part = b"x" * 4096
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            self.wfile.flush()
            time.sleep(0.2)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        raise not_found(f"no test endpoint {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", choices=["basic", "jwt", "none"], default="basic")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo")
    parser.add_argument("--secret-b64", help="the engine's JWT secret, base64 (decoded = the key)")
    parser.add_argument("--max-lifetime", type=float, default=300)
    parser.add_argument("--ignore-stdin", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    secret = b""
    if args.auth == "jwt":
        if not args.secret_b64:
            parser.error("--auth jwt needs --secret-b64")
        try:
            secret = base64.b64decode(args.secret_b64, validate=True)
        except binascii.Error:
            parser.error("--secret-b64 is not base64")

    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as err:
        sys.stderr.write(f"engine: cannot listen on 127.0.0.1:{args.port}: {err}\n")
        sys.exit(1)
    server.daemon_threads = True
    server.auth = args.auth
    server.user = args.user
    server.password = args.password
    server.secret = secret
    server.verbose = args.verbose
    server.store = Store()
    server.last_request = None

    def stop(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(args.max_lifetime, stop).start()
    if not args.ignore_stdin:

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop()

        threading.Thread(target=watch_stdin, daemon=True).start()

    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
