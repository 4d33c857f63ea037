"""HTTP(S) downloads with limits, and the digests a release's checksum file gives.

`download(url, target, limit=…, timeout=…)` streams one file to disk, refusing it once it grows
past `limit`, feeding the digests it is given on the way and reporting progress; every failure
(an HTTP status, a timeout, a download cut short) is a `ChatonError` in the operator's words.
`expected_digest` reads the digest of one file from a checksum file (lines "<hex>  <file name>").
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from chaton import __version__
from chaton.errors import BadInput, ChatonError
from chaton.i18n import _

DEFAULT_TIMEOUT = 30.0  # seconds without an answer (connect, or between two reads)
_CHUNK = 1024 * 1024
_USER_AGENT = f"chaton-toolkit/{__version__}"

# (url, bytes so far, total bytes or None): called with 0 when a download starts.
Progress = Callable[[str, int, int | None], None]


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def download(
    url: str,
    target: Path,
    *,
    limit: int,
    timeout: float,
    digests: Iterable[_Digest] = (),
    progress: Progress | None = None,
) -> int:
    """Stream `url` into `target` (flushed to disk), feeding `digests`; return its size."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BadInput(_("{url} is not an http:// or https:// folder address", url=url))
    # http(s) only (just checked): no file:// or custom scheme reaches urlopen.
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})  # noqa: S310
    too_large = _("{url}: larger than {limit} bytes: refused", url=url, limit=limit)
    digests = list(digests)
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,  # noqa: S310
            target.open("wb") as stream,
        ):
            total = _content_length(response)
            if total is not None and total > limit:
                raise ChatonError(too_large)
            done = 0
            if progress:
                progress(url, 0, total)
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if done > limit:
                    raise ChatonError(too_large)
                stream.write(chunk)
                for digest in digests:
                    digest.update(chunk)
                if progress:
                    progress(url, done, total)
            if total is not None and done != total:
                raise ChatonError(
                    _(
                        "{url}: the download broke off after {done} of {total} bytes",
                        url=url,
                        done=done,
                        total=total,
                    )
                )
            stream.flush()
            os.fsync(stream.fileno())
    except urllib.error.HTTPError as error:
        raise ChatonError(
            _(
                "{url}: the server answered HTTP {status} {reason}",
                url=url,
                status=error.code,
                reason=error.reason,
            )
        ) from None
    except TimeoutError:
        raise ChatonError(_timed_out(url, timeout)) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ChatonError(_timed_out(url, timeout)) from None
        raise ChatonError(
            _("{url}: cannot download: {reason}", url=url, reason=error.reason)
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise ChatonError(_("{url}: cannot download: {reason}", url=url, reason=error)) from None
    return done


def digest_label(algorithm: str) -> str:
    """How a hashlib name is written for people: sha512 -> SHA-512."""
    return {"sha256": "SHA-256", "sha512": "SHA-512"}.get(algorithm, algorithm.upper())


def _timed_out(url: str, timeout: float) -> str:
    return _("{url}: no answer within {seconds} s (timeout)", url=url, seconds=format(timeout, "g"))


def expected_digest(text: str, file_name: str, algorithm: str) -> str:
    """The hex digest the checksum file gives for `file_name` (lines "<hex>  <name>")."""
    length = hashlib.new(algorithm).digest_size * 2
    for line in text.splitlines():
        parts = line.split()
        if (
            len(parts) == 2
            and parts[1].lstrip("*") == file_name
            and re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", parts[0])
        ):
            return parts[0].lower()
    raise ChatonError(
        _(
            "the checksum file gives no {algorithm} digest for {file}",
            algorithm=digest_label(algorithm),
            file=file_name,
        )
    )
