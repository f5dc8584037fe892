"""TicketTracker on GitHub's REST Issues API (a token with issues: write on the repository).

Create: ``POST /repos/{owner}/{repo}/issues`` with ``title``, ``body``, ``labels``; 201 answers
the issue with ``number``, ``html_url``, ``state``. Read: ``GET /repos/{owner}/{repo}/issues/
{number}``: ``state`` open/closed and ``state_reason`` (completed, not_planned, reopened).
"""

from __future__ import annotations

import re

import httpx

from incident_operator.domain.tickets import github_status

from .ports import TokenSource
from .tickets_port import Ticket, TicketRequest
from .tracker_http import call

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"


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
        return Ticket(
            str(data["number"]),
            str(data["html_url"]),
            github_status(data.get("state", "open"), data.get("state_reason")),
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
        data = response.json()
        return Ticket(
            ref,
            str(data["html_url"]),
            github_status(data.get("state", "open"), data.get("state_reason")),
        )

    def owns(self, url: str) -> str | None:
        match = self._url.match(url)
        return match.group(1) if match else None
