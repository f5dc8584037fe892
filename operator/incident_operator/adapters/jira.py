"""TicketTracker on Jira Cloud's REST API v3 (basic auth: account email + API token).

Create: ``POST /rest/api/3/issue`` with ``fields.project.key``, ``issuetype.name``,
``summary``, ``description`` as an Atlassian Document Format document, ``duedate`` and
``labels``; 201 answers ``{id, key, self}``. Read: ``GET /rest/api/3/issue/{key}?fields=status``;
the status's ``statusCategory.key`` (new / indeterminate / done) is what we map.
Humans open ``{base}/browse/{key}``.

Look-up-before-create: the request's idempotency marker (``incident-operator-<16 hex>``) is
one more label on the issue, and ``find`` asks the enhanced JQL search —
``POST /rest/api/3/search/jql`` with ``project = "KEY" AND labels = "<marker>" ORDER BY
created ASC``, ``fields: [status]``, ``maxResults: 1``; it answers ``{issues: [{id, key,
fields}], isLast, nextPageToken?}``. (The older ``/rest/api/3/search`` was removed from Jira
Cloud in 2025; the enhanced endpoint returns only ids unless ``fields`` are asked for.)
Limitation, documented by Atlassian: search results are eventually consistent ("recent updates
might not be immediately visible"); its ``reconcileIssues`` option needs the issue ids we
would be looking for, so it cannot help here. A ticket created within the index delay (not
given as a number; normally short) before a crash can therefore still be missed. A restart —
new process, start-up, the timer's initial delay — usually outlasts it, which narrows the
window for a duplicate to a crash and restart faster than Jira's indexing, not to zero.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from incident_operator.domain.tickets import jira_status

from .ports import TokenSource
from .tickets_port import Ticket, TicketRequest
from .tracker_http import call

KEY = re.compile(r"^[A-Z][A-Z0-9_]+-[0-9]+$")


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document, one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in text.splitlines()
            if line
        ],
    }


class JiraTracker:
    name = "jira"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        email: str,
        token: TokenSource,
        project: str,
        *,
        issue_type: str = "Task",
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._email = email
        self._token = token
        self._project = project
        self._issue_type = issue_type
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"JiraTracker(base_url={self._base!r}, project={self._project!r})"

    def _auth(self) -> httpx.BasicAuth:
        token = self._token.current() or b""
        return httpx.BasicAuth(self._email, token.decode())

    def _ticket(self, key: str, status: str) -> Ticket:
        return Ticket(key, f"{self._base}/browse/{key}", status)

    async def create(self, request: TicketRequest) -> Ticket:
        fields: dict[str, Any] = {
            "project": {"key": self._project},
            "issuetype": {"name": self._issue_type},
            "summary": request.title[:255],
            "description": adf(request.description),
            "labels": [label.replace(" ", "-") for label in request.labels],
        }
        if request.marker:
            fields["labels"].append(request.marker)
        if request.due is not None:
            fields["duedate"] = request.due.isoformat()
        response = await call(
            "Jira",
            "creating an issue",
            lambda: self._client.post(
                f"{self._base}/rest/api/3/issue",
                json={"fields": fields},
                auth=self._auth(),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            ),
        )
        return self._ticket(str(response.json()["key"]), "open")

    async def get(self, ref: str) -> Ticket:
        response = await call(
            "Jira",
            f"reading issue {ref}",
            lambda: self._client.get(
                f"{self._base}/rest/api/3/issue/{ref}",
                params={"fields": "status"},
                auth=self._auth(),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            ),
        )
        status = (response.json().get("fields") or {}).get("status") or {}
        category = (status.get("statusCategory") or {}).get("key", "new")
        return self._ticket(ref, jira_status(str(category)))

    async def find(self, request: TicketRequest) -> Ticket | None:
        if not request.marker:
            return None
        jql = (
            f"project = {_quoted(self._project)} AND labels = {_quoted(request.marker)} "
            "ORDER BY created ASC"
        )
        response = await call(
            "Jira",
            "searching for an earlier issue",
            lambda: self._client.post(
                f"{self._base}/rest/api/3/search/jql",
                json={"jql": jql, "fields": ["status"], "maxResults": 1},
                auth=self._auth(),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            ),
        )
        issues = response.json().get("issues") or []
        if not issues:
            return None
        issue = issues[0]
        status = (issue.get("fields") or {}).get("status") or {}
        category = (status.get("statusCategory") or {}).get("key", "new")
        return self._ticket(str(issue["key"]), jira_status(str(category)))

    def owns(self, url: str) -> str | None:
        prefix = f"{self._base}/browse/"
        if not url.startswith(prefix):
            return None
        key = url[len(prefix) :].split("?", maxsplit=1)[0].strip("/")
        return key if KEY.match(key) else None


def _quoted(value: str) -> str:
    """A JQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
