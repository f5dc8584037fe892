"""TicketTracker on GitHub's REST Issues API (a token with issues: write on the repository).

Create: ``POST /repos/{owner}/{repo}/issues`` with ``title``, ``body``, ``labels``; 201 answers
the issue with ``number``, ``html_url``, ``state``. Read: ``GET /repos/{owner}/{repo}/issues/
{number}``: ``state`` open/closed and ``state_reason`` (completed, not_planned, reopened).

Look-up-before-create: the idempotency marker goes into the body as a hidden HTML comment,
``<!-- incident-operator-<16 hex> -->`` (invisible in the rendered issue, no label per item).
``find`` lists the repository's issues carrying the request's labels (``GET /repos/{owner}/
{repo}/issues?labels=postmortem,incident-<name>&state=all&sort=created&direction=desc&
per_page=100``, following ``Link: rel="next"`` up to ``MAX_PAGES``) and picks the ones whose
body holds the marker — pull requests, which that endpoint lists too, are skipped.

Why not the search API (``GET /search/issues?q=repo:OWNER/NAME+"<marker>"+in:body``): the look-up
matters exactly after a crash between creating and recording, i.e. seconds after the create — and
search reads an index GitHub updates asynchronously, with no documented bound, so it could miss
precisely the issue we look for. Search also has its own, much smaller rate limit (30
requests/minute for a token, against the core 5,000/hour) and may answer ``incomplete_results``.
The issues list does not go through the search index and counts against the core limit. Why not a
dedicated label per marker (exact and consistent too): it leaves one label per action item in the
repository's label list forever; the incident label the tickets carry anyway narrows the list to
that incident's few issues, and the body marker picks the item. Caveat: GitHub silently drops
labels the token may not set (only push access may label new issues); ``create`` warns when they
come back missing, because ``find`` cannot see such an issue.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from incident_operator.domain.tickets import github_status

from .ports import TokenSource
from .tickets_port import Ticket, TicketRequest
from .tracker_http import call

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_PAGES = 10
"""Newest first, 100 per page: the look-up covers an incident's latest 1,000 labelled issues."""

log = logging.getLogger(__name__)


def hidden_marker(marker: str) -> str:
    return f"<!-- {marker} -->"


class GitHubIssues:
    name = "github"

    def __init__(
        self,
        client: httpx.AsyncClient,
        repository: str,
        token: TokenSource,
        *,
        api_url: str = DEFAULT_API,
        web_url: str = "https://github.com",
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._repo = repository
        self._token = token
        self._api = api_url.rstrip("/")
        self._web = web_url.rstrip("/")
        self._timeout = timeout
        self._url = re.compile(rf"^{re.escape(self._web)}/{re.escape(repository)}/issues/(\d+)")

    def __repr__(self) -> str:
        return f"GitHubIssues(repository={self._repo!r}, api_url={self._api!r})"

    def _headers(self) -> dict[str, str]:
        token = (self._token.current() or b"").decode()
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": API_VERSION,
        }

    async def create(self, request: TicketRequest) -> Ticket:
        body = request.description
        if request.marker:
            body = f"{body}\n\n{hidden_marker(request.marker)}"
        response = await call(
            "GitHub",
            "creating an issue",
            lambda: self._client.post(
                f"{self._api}/repos/{self._repo}/issues",
                json={"title": request.title, "body": body, "labels": list(request.labels)},
                headers=self._headers(),
                timeout=self._timeout,
            ),
        )
        data = response.json()
        kept = {str(label.get("name")) for label in data.get("labels") or []}
        if request.marker and not set(request.labels) <= kept:
            log.warning(
                "GitHub dropped labels of issue #%s (the token may not set labels): a restart "
                "between creating and recording it could not find it again",
                data["number"],
            )
        return _ticket(data)

    async def find(self, request: TicketRequest) -> Ticket | None:
        if not request.marker:
            return None
        wanted = hidden_marker(request.marker)
        first = {"state": "all", "sort": "created", "direction": "desc", "per_page": "100"}
        if request.labels:
            first["labels"] = ",".join(request.labels)
        params: dict[str, str] | None = first
        url: str | None = f"{self._api}/repos/{self._repo}/issues"
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            issues, url = await self._page(url, params)
            params = None  # the next link carries them (httpx would replace its query by {})
            found += [
                issue
                for issue in issues
                if "pull_request" not in issue and wanted in (issue.get("body") or "")
            ]
        if not found:
            return None
        return _ticket(min(found, key=lambda issue: int(issue["number"])))

    async def _page(
        self, url: str, params: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the issues list and the ``Link: rel="next"`` URL, if any."""
        response = await call(
            "GitHub",
            "listing issues for an earlier one",
            lambda: self._client.get(
                url, params=params, headers=self._headers(), timeout=self._timeout
            ),
        )
        issues = response.json()
        return (issues if isinstance(issues, list) else []), response.links.get("next", {}).get(
            "url"
        )

    async def get(self, ref: str) -> Ticket:
        response = await call(
            "GitHub",
            f"reading issue #{ref}",
            lambda: self._client.get(
                f"{self._api}/repos/{self._repo}/issues/{ref}",
                headers=self._headers(),
                timeout=self._timeout,
            ),
        )
        return _ticket(response.json())

    def owns(self, url: str) -> str | None:
        match = self._url.match(url)
        return match.group(1) if match else None


def _ticket(issue: dict[str, Any]) -> Ticket:
    return Ticket(
        str(issue["number"]),
        str(issue["html_url"]),
        github_status(issue.get("state", "open"), issue.get("state_reason")),
    )
