"""The disk cache of image configs: config blobs by digest (immutable, kept for good) and
what each reference resolved to (a digest reference for good, a tag for TAG_TTL seconds:
tags move). Entries are written atomically and a blob is checked against its digest when
read, so a torn or tampered file is a miss, never a wrong answer.

Layout: `DIR/blobs/sha256/<hex>` (the config JSON) and `DIR/refs/<sha256 of the key>.json`
(`{"key", "config", "resolved"}`: key = reference + platform).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

TAG_TTL = 3600.0


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "k8s-harden", "images")


class Cache:
    def __init__(self, folder: str) -> None:
        self.folder = folder

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

    def resolved(self, key: str, immutable: bool) -> str | None:
        """The config digest `key` (reference + platform) resolved to, when still valid."""
        try:
            with open(self._ref_path(key), encoding="utf-8") as f:
                entry = json.load(f)
            digest, when = entry["config"], float(entry["resolved"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if entry.get("key") != key or not isinstance(digest, str):
            return None
        if not immutable and not (0 <= time.time() - when < TAG_TTL):
            return None
        return digest

    def put_resolved(self, key: str, digest: str) -> None:
        self._write(self._ref_path(key), json.dumps(
            {"key": key, "config": digest, "resolved": time.time()}).encode())
