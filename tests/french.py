"""What an English message from pydantic, Starlette or FastAPI looks like, to check none reaches a person."""

from __future__ import annotations

import re
from typing import Any

# Phrases of pydantic's messages (https://docs.pydantic.dev/latest/errors/validation_errors/) and of the
# errors Starlette and FastAPI raise themselves.
ENGLISH = re.compile(
    r"Input should|Field required|should (?:be|have|match)|Extra inputs|[Vv]alue error|[Vv]alue is not|"
    r"Assertion failed|Invalid JSON|JSON decode|There was an error|Not Found|Method Not Allowed|"
    r"Unprocessable|Internal Server Error|\b(?:valid|invalid|required|expected|must|allowed|characters?|"
    r"greater|less|than|equal|number|integer|string|address|length)\b"
)


def english_in(problem: dict[str, Any]) -> list[str]:
    """The texts of a problem+json body (title, detail, each error's msg) that read as English."""
    texts = [str(problem.get("title", "")), str(problem.get("detail", ""))]
    texts += [str(error.get("msg", "")) for error in problem.get("errors", []) if isinstance(error, dict)]
    return [text for text in texts if ENGLISH.search(_without_quoted_values(text))]


def _without_quoted_values(text: str) -> str:
    # Values quoted back to the caller ('request', « … », field names in code) are not sentences.
    text = re.sub(r"'[^']*'|«[^»]*»|`[^`]*`|\"[^\"]*\"", "", text)
    return re.sub(r"\b[a-z_]+(?:\.[a-z_0-9]+)+\b|\b[a-z]+_[a-z_]+\b", "", text)
