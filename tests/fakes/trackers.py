"""Local Jira Cloud (REST v3), GitHub Issues and Grafana annotations APIs on a real port.

They follow the documented contracts, not our adapters' habits:

* Jira: ``POST /rest/api/3/issue`` needs basic auth (email + API token) and ``fields`` with
  ``project.key`` (known project), ``issuetype.name``, ``summary`` (<= 255) and, if given, a
  ``description`` in Atlassian Document Format (``type: doc``, ``version: 1``); 201
  ``{id, key, self}``; 400 ``{"errorMessages": [], "errors": {field: message}}``; 401 without
  valid credentials. ``GET /rest/api/3/issue/{key}`` answers ``fields.status`` with
  ``statusCategory.key`` (new, indeterminate, done); 404 ``errorMessages`` for unknown keys.
* GitHub: ``POST /repos/{owner}/{repo}/issues`` with a Bearer token, ``title`` required
  (422 ``{"message": "Validation Failed", "errors": [...]}``); 201 with ``number``,
  ``html_url``, ``state``, ``state_reason``; ``GET .../issues/{number}``.
* Grafana: ``POST /api/annotations`` with a Bearer token and ``time`` (epoch ms); 200
  ``{"message": "Annotation added", "id": n}``.

Fault injection on each: ``throttle_next`` (429 + Retry-After) and ``fail_next`` (5xx).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class _Faults:
    queue: list[tuple[int, float | None]] = field(default_factory=list)

    def pop(self) -> web.Response | None:
        if not self.queue:
            return None
        status, retry_after = self.queue.pop(0)
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return web.json_response({"message": "fault"}, status=status, headers=headers)


class _Server:
    def __init__(self) -> None:
        self.faults = _Faults()
        self.requests: list[tuple[str, str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    def throttle_next(self, retry_after: float | None = 7) -> None:
        self.faults.queue.append((429, retry_after))

    def fail_next(self, status: int = 503) -> None:
        self.faults.queue.append((status, None))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class FakeJira(_Server):
    def __init__(self, email: str, token: str, projects: tuple[str, ...] = ("OPS",)) -> None:
        super().__init__()
        self.credentials = base64.b64encode(f"{email}:{token}".encode()).decode()
        self.projects = set(projects)
        self.issues: dict[str, dict[str, Any]] = {}

    def set_category(self, key: str, category: str) -> None:
        names = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
        self.issues[key]["status"] = {
            "name": names[category],
            "statusCategory": {"key": category, "name": names[category]},
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_get("/rest/api/3/issue/{key}", self._get)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Basic {self.credentials}"

    async def _create(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response(
                {"errorMessages": ["You are not authenticated."], "errors": {}}, status=401
            )
        body = await request.json()
        self.requests.append(("POST", request.path, body))
        fields = body.get("fields") or {}
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") not in self.projects:
            errors["project"] = "valid project is required"
        if not (fields.get("issuetype") or {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary:
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        description = fields.get("description")
        if description is not None and (
            not isinstance(description, dict)
            or description.get("type") != "doc"
            or description.get("version") != 1
        ):
            errors["description"] = "Operation value must be an Atlassian Document."
        if errors:
            return web.json_response({"errorMessages": [], "errors": errors}, status=400)
        number = len(self.issues) + 1
        key = f"{fields['project']['key']}-{number}"
        self.issues[key] = {"fields": fields, "status": {}}
        self.set_category(key, "new")
        return web.json_response(
            {"id": str(10000 + number), "key": key, "self": f"{self.url}/rest/api/3/issue/{key}"},
            status=201,
        )

    async def _get(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response(
                {"errorMessages": ["You are not authenticated."], "errors": {}}, status=401
            )
        key = request.match_info["key"]
        issue = self.issues.get(key)
        if issue is None:
            return web.json_response(
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ],
                    "errors": {},
                },
                status=404,
            )
        return web.json_response({"key": key, "fields": {"status": issue["status"]}})


class FakeGitHub(_Server):
    def __init__(self, repository: str, token: str) -> None:
        super().__init__()
        self.repository = repository
        self.token = token
        self.issues: dict[int, dict[str, Any]] = {}

    def close(self, number: int, reason: str = "completed") -> None:
        self.issues[number].update(state="closed", state_reason=reason)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/repos/{self.repository}/issues", self._create)
        app.router.add_get(f"/repos/{self.repository}/issues/{{number}}", self._get)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _create(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response({"message": "Bad credentials"}, status=401)
        body = await request.json()
        self.requests.append(("POST", request.path, body))
        if not isinstance(body.get("title"), str) or not body["title"]:
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
                },
                status=422,
            )
        number = len(self.issues) + 1
        self.issues[number] = {
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "labels": [{"name": name} for name in body.get("labels") or []],
            "state": "open",
            "state_reason": None,
            "html_url": f"https://github.com/{self.repository}/issues/{number}",
        }
        return web.json_response(self.issues[number], status=201)

    async def _get(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response({"message": "Bad credentials"}, status=401)
        issue = self.issues.get(int(request.match_info["number"]))
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(issue)


class FakeGrafana(_Server):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.annotations: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/annotations", self._create)
        return app

    async def _create(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        body = await request.json()
        if not isinstance(body.get("time"), int) or not isinstance(body.get("text"), str):
            return web.json_response({"message": "bad request data"}, status=400)
        self.annotations.append(body)
        return web.json_response(
            {"message": "Annotation added", "id": len(self.annotations)}, status=200
        )
