"""The disk cache of image configs: config blobs by digest (immutable, kept for good) and
what each reference resolved to (a digest reference for good, a tag for TAG_TTL seconds:
tags move). Entries are written atomically and a blob is checked against its digest when
read, so a torn or tampered file is a miss, never a wrong answer.

Layout: `DIR/blobs/sha256/<hex>` (the config JSON) and `DIR/refs/<sha256 of the key>.json`
(`{"key", "config", "resolved"}`: key = reference + platform; or `{"key", "failed",
"resolved"}`: why the last lookup failed, remembered for :func:`failure_ttl` seconds, so a
registry that is down or an image that is gone costs one timeout per few minutes, not one
per run).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

TAG_TTL = 3600.0
#: The longest a failed lookup is remembered (seconds).
FAILURE_TTL_MAX = 300.0


def failure_ttl(tag_ttl: float) -> float:
    """How long a failure is remembered: a tenth of the tag TTL, at most FAILURE_TTL_MAX."""
    return min(tag_ttl / 10, FAILURE_TTL_MAX)


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "k8s-harden", "images")


class Cache:
    def __init__(self, folder: str, tag_ttl: float = TAG_TTL) -> None:
        self.folder, self.tag_ttl = folder, tag_ttl

    def _write(self, path: str, data: bytes) -> None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full cache only costs the next run a fetch

    def _blob_path(self, digest: str) -> str:
        return os.path.join(self.folder, "blobs", "sha256", digest.partition(":")[2])

    def blob(self, digest: str) -> bytes | None:
        try:
            with open(self._blob_path(digest), "rb") as f:
                data = f.read()
        except OSError:
            return None
        return data if "sha256:" + hashlib.sha256(data).hexdigest() == digest else None

    def put_blob(self, digest: str, data: bytes) -> None:
        self._write(self._blob_path(digest), data)

    def _ref_path(self, key: str) -> str:
        return os.path.join(self.folder, "refs", hashlib.sha256(key.encode()).hexdigest() + ".json")

    def _entry(self, key: str) -> tuple[dict, float] | None:
        """The ref entry of `key` and its age in seconds (None: none, or unreadable)."""
        try:
            with open(self._ref_path(key), encoding="utf-8") as f:
                entry = json.load(f)
            age = time.time() - float(entry["resolved"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (entry, age) if isinstance(entry, dict) and entry.get("key") == key else None

    def resolved(self, key: str, immutable: bool) -> str | None:
        """The config digest `key` (reference + platform) resolved to, when still valid."""
        found = self._entry(key)
        digest = found[0].get("config") if found else None
        if not isinstance(digest, str) or not (immutable or 0 <= found[1] < self.tag_ttl):
            return None
        return digest

    def put_resolved(self, key: str, digest: str) -> None:
        self._write(self._ref_path(key), json.dumps(
            {"key": key, "config": digest, "resolved": time.time()}).encode())

    def failed(self, key: str, context: str) -> tuple[str, float] | None:
        """(why, seconds ago) of the last lookup of `key`, when it failed recently enough and
        in the same `context` (the credentials and settings it was asked with: a user who
        fixes them is not told the old answer)."""
        found = self._entry(key)
        why = found[0].get("failed") if found else None
        if (not isinstance(why, str) or found[0].get("context") != context
                or not 0 <= found[1] < failure_ttl(self.tag_ttl)):
            return None
        return why, found[1]

    def put_failed(self, key: str, why: str, context: str) -> None:
        if failure_ttl(self.tag_ttl) > 0:
            self._write(self._ref_path(key), json.dumps(
                {"key": key, "failed": why, "context": context, "resolved": time.time()}).encode())
