"""Local Jira Cloud (REST v3), GitHub Issues and Grafana annotations APIs on a real port.

They follow the documented contracts, not our adapters' habits:

* Jira: ``POST /rest/api/3/issue`` needs basic auth (email + API token) and ``fields`` with
  ``project.key`` (known project), ``issuetype.name``, ``summary`` (<= 255) and, if given, a
  ``description`` in Atlassian Document Format (``type: doc``, ``version: 1``); 201
  ``{id, key, self}``; 400 ``{"errorMessages": [], "errors": {field: message}}``; 401 without
  valid credentials. ``GET /rest/api/3/issue/{key}`` answers ``fields.status`` with
  ``statusCategory.key`` (new, indeterminate, done); 404 ``errorMessages`` for unknown keys.
  ``POST /rest/api/3/search/jql`` (the enhanced search; the old ``/search`` is gone from
  Cloud): ``jql`` must be bounded (400 otherwise), ``fields`` (only ``id`` and ``key`` by
  default), ``maxResults`` (50), ``nextPageToken``; answers ``{issues: [{id, key, fields}],
  isLast, nextPageToken?}``. JQL subset understood: ``project``/``labels``/``key`` ``=``
  clauses joined by ``AND``, optional ``ORDER BY created|key ASC|DESC``; anything else is a
  400 "Error in the JQL Query". ``unindexed`` keys are not found yet (search lags creation).
* GitHub: ``POST /repos/{owner}/{repo}/issues`` with a Bearer token, ``title`` required
  (422 ``{"message": "Validation Failed", "errors": [...]}``); 201 with ``number``,
  ``html_url``, ``state``, ``state_reason``; ``GET .../issues/{number}``. ``GET .../issues``
  lists with ``state`` (open by default, closed, all), ``labels`` (comma-separated, all must
  match), ``sort`` (created), ``direction`` (desc by default), ``per_page`` (30, at most 100),
  ``page``, and a ``Link`` header with ``rel="next"`` while more pages follow.
* Grafana: ``POST /api/annotations`` with a Bearer token and ``time`` (epoch ms); 200
  ``{"message": "Annotation added", "id": n}``.

Fault injection on each: ``throttle_next`` (429 + Retry-After) and ``fail_next`` (5xx).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

JQL_CLAUSE = re.compile(
    r'^\s*(project|labels|key)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([\w.-]+))\s*$', re.I
)
JQL_ORDER = re.compile(r"\s+ORDER\s+BY\s+(created|key)(?:\s+(ASC|DESC))?\s*$", re.I)


def _matches(clauses: list[tuple[str, str]], key: str, issue: dict[str, Any]) -> bool:
    """Whether the issue satisfies every (field, value) clause of the JQL."""
    fields = issue["fields"]
    for name, value in clauses:
        if name == "project" and fields["project"]["key"] != value:
            return False
        if name == "labels" and value not in (fields.get("labels") or []):
            return False
        if name == "key" and key != value:
            return False
    return True


def _jql_error(message: str) -> web.Response:
    return web.json_response({"errorMessages": [message], "errors": {}}, status=400)


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
        self.searches: list[dict[str, Any]] = []
        self.unindexed: set[str] = set()
        """Keys the search index has not caught up with (created, not searchable yet)."""

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
        app.router.add_post("/rest/api/3/search/jql", self._search)
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
        self.issues[key] = {"id": str(10000 + number), "fields": fields, "status": {}}
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

    async def _search(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response(
                {"errorMessages": ["You are not authenticated."], "errors": {}}, status=401
            )
        body = await request.json()
        self.searches.append(body)
        jql = str(body.get("jql") or "")
        order = JQL_ORDER.search(jql)
        where = jql[: order.start()] if order else jql
        if not where.strip():
            return _jql_error("Unbounded JQL queries are not allowed here.")
        clauses: list[tuple[str, str]] = []
        for part in re.split(r"\s+AND\s+", where, flags=re.I):
            match = JQL_CLAUSE.match(part)
            if match is None:
                return _jql_error(f"Error in the JQL Query: unsupported clause {part.strip()!r}.")
            value = match.group(2) if match.group(2) is not None else match.group(3)
            clauses.append((match.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))

        found = [
            k for k, i in self.issues.items() if k not in self.unindexed and _matches(clauses, k, i)
        ]
        found.sort(key=lambda k: int(self.issues[k]["id"]))  # created order = id order
        if order and (order.group(2) or "ASC").upper() == "DESC":
            found.reverse()
        start = int(body.get("nextPageToken") or 0)
        size = max(1, min(int(body.get("maxResults") or 50), 5000))
        page = found[start : start + size]
        wanted = [str(f) for f in body.get("fields") or []]
        issues = []
        for key in page:
            issue = self.issues[key]
            everything = {**issue["fields"], "status": issue["status"]}
            issues.append(
                {
                    "id": issue["id"],
                    "key": key,
                    "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
                    "fields": {f: everything[f] for f in wanted if f in everything},
                }
            )
        answer: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(found)}
        if not answer["isLast"]:
            answer["nextPageToken"] = str(start + size)
        return web.json_response(answer)


class FakeGitHub(_Server):
    def __init__(self, repository: str, token: str) -> None:
        super().__init__()
        self.repository = repository
        self.token = token
        self.issues: dict[int, dict[str, Any]] = {}
        self.listings: list[dict[str, str]] = []

    def close(self, number: int, reason: str = "completed") -> None:
        self.issues[number].update(state="closed", state_reason=reason)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/repos/{self.repository}/issues", self._create)
        app.router.add_get(f"/repos/{self.repository}/issues/{{number}}", self._get)
        app.router.add_get(f"/repos/{self.repository}/issues", self._list)
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

    async def _list(self, request: web.Request) -> web.Response:
        if (fault := self.faults.pop()) is not None:
            return fault
        if not self._authorized(request):
            return web.json_response({"message": "Bad credentials"}, status=401)
        query = request.query
        self.listings.append(dict(query))
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return web.json_response({"message": "Validation Failed"}, status=422)
        labels = [name for name in query.get("labels", "").split(",") if name]
        per_page = max(1, min(int(query.get("per_page", "30")), 100))
        page = max(1, int(query.get("page", "1")))
        found = [
            issue
            for issue in self.issues.values()
            if (state == "all" or issue["state"] == state)
            and all(name in {label["name"] for label in issue["labels"]} for name in labels)
        ]
        found.sort(key=lambda issue: int(issue["number"]))  # created order = number order
        if query.get("direction", "desc") == "desc":
            found.reverse()
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            url = URL(self.url).with_path(request.path).with_query({**query, "page": str(page + 1)})
            headers["Link"] = f'<{url}>; rel="next"'
        return web.json_response(chunk, headers=headers)


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
