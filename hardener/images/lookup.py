"""One run's image lookup: every distinct image reference of the stream, fetched once
(from a registry, concurrently on a bounded pool, through the disk cache) or read from a
folder of configs, before any pod template is hardened.

A folder (air-gapped CI) holds the configs as `crane config IMAGE` or `skopeo inspect
--config --raw` print them and an `index.json` mapping each reference, exactly as the
manifests write it, to a file name in the folder.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from ..errors import HardenError
from ..kube import podspec
from . import Failure, ImageConfig, RegistryError, from_config
from .cache import failure_ttl

POOL = 8


class ImageError(HardenError):
    """--images-required and an image config that could not be had; or a bad --images folder."""


class _Clients:
    """The registry client, made on the first cache miss: a run the cache answers imports
    no HTTP code and starts no thread."""

    def __init__(self, insecure: frozenset[str], client: Any = None) -> None:
        self.insecure, self._client = insecure, client
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                from .registry import Client

                self._client = Client(self.insecure)
            return self._client


def _key(text: str, settings: Any):
    """(the parsed reference, its cache key: normalised reference + platform) or a Failure."""
    from . import reference

    try:
        ref = reference.parse(text)
    except ValueError as exc:
        return Failure(text, f"not an image reference: {exc}")
    return ref, f"{ref}|{'/'.join(p for p in settings.platform if p)}"


def _context(settings: Any) -> str:
    """What a failed lookup depended on besides the reference: the Docker config file (its
    path and a hash of its content: new credentials) and the registries spoken to over
    plain HTTP."""
    import hashlib

    from .auth import config_path

    path = config_path()
    try:
        with open(path, "rb") as f:
            stamp = hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        stamp = "none"
    return f"{path}:{stamp}|{','.join(sorted(settings.insecure))}"


def _from_cache(text: str, settings: Any, cache: Any) -> ImageConfig | Failure | None:
    """The config the cache holds for the reference (None: a miss)."""
    parsed = _key(text, settings)
    if isinstance(parsed, Failure):
        return parsed
    ref, key = parsed
    digest = cache.resolved(key, immutable=ref.digest is not None)
    blob = cache.blob(digest) if digest else None
    if blob is None:
        failed = cache.failed(key, _context(settings)) if digest is None else None
        if failed is not None:
            why, ago = failed
            return Failure(text, f"{why} (remembered from a lookup {int(ago)} s ago; asked again after "
                                 f"{int(failure_ttl(cache.tag_ttl))} s, or with --images-ttl 0)")
        return None
    try:
        return from_config(text, json.loads(blob), digest, "cache")
    except ValueError:
        return None


def _from_registry(text: str, settings: Any, clients: _Clients, cache: Any) -> ImageConfig | Failure:
    from .registry import config_digest

    ref, key = _key(text, settings)
    try:
        client = clients.get()
        _, manifest = client.manifest(ref, settings.platform)
        digest = config_digest(manifest)
        blob = cache.blob(digest)
        source = "cache"
        if blob is None:
            blob = client.config_blob(ref, digest)
            source = "registry"
            cache.put_blob(digest, blob)
        data = json.loads(blob)
    except RegistryError as exc:
        cache.put_failed(key, str(exc), _context(settings))
        return Failure(text, str(exc))
    except ValueError:
        cache.put_failed(key, "the config blob is not JSON", _context(settings))
        return Failure(text, "the config blob is not JSON")
    cache.put_resolved(key, digest)
    return from_config(text, data, digest, source)


def folder_index(folder: str) -> dict[str, str]:
    """The folder's index.json: reference -> file name. ImageError when it is unusable."""
    path = os.path.join(folder, "index.json")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except OSError as exc:
        raise ImageError(f"--images {folder}: cannot read index.json: {exc.strerror}") from None
    except ValueError as exc:
        raise ImageError(f"--images {folder}: index.json is not JSON: {exc}") from None
    if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in index.items()):
        raise ImageError(f"--images {folder}: index.json must be a JSON object mapping each image "
                         "reference to a file name in the folder")
    return index


def _from_folder(text: str, folder: str, index: dict[str, str]) -> ImageConfig | Failure:
    name = index.get(text)
    if name is None:
        return Failure(text, f"not in {os.path.join(folder, 'index.json')}")
    if "/" in name or os.sep in name or name in ("", ".", ".."):
        return Failure(text, f"index.json names {name!r}, not a file in the folder")
    path = os.path.join(folder, name)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        return Failure(text, f"cannot read {path}: {exc.strerror}")
    except ValueError:
        return Failure(text, f"{path} is not JSON")
    return from_config(text, data, None, "folder")


def lookup(refs: list[str], settings: Any, client: Any = None) -> dict[str, ImageConfig | Failure]:
    """reference (as written) -> its config or why not, for each distinct reference."""
    refs = list(dict.fromkeys(refs))
    if not refs:
        return {}
    if settings.mode != "registry":
        index = folder_index(settings.mode)
        return {r: _from_folder(r, settings.mode, index) for r in refs}
    from .cache import Cache, default_dir

    cache = Cache(settings.cache or default_dir(), settings.ttl)
    found = {r: _from_cache(r, settings, cache) for r in refs}
    misses = [r for r, got in found.items() if got is None]
    clients = _Clients(settings.insecure, client)
    if len(misses) == 1:
        found[misses[0]] = _from_registry(misses[0], settings, clients, cache)
    elif misses:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(POOL, len(misses))) as pool:
            found.update(zip(misses, pool.map(lambda r: _from_registry(r, settings, clients, cache), misses)))
    return found


#: `image:` values that name no image: a mutating webhook writes the real one at admission
#: (Istio's gateway injection template: `image: auto`). Looking one up would ask Docker Hub
#: for `library/auto`; its user is unknown, as for an image not read.
PLACEHOLDERS = frozenset({"auto"})


def stream_images(docs: list, table: Any) -> dict[str, list[str]]:
    """Every image reference of the stream's pod templates -> where it is used
    (`Kind ns/name container 'c'`), in order of first use. A document this loads is let go
    again: the hardening pass loads each one when it comes to it, so memory holds one
    document's data at a time (bounded memory, as without --images)."""
    from ..kube.workloads import find_pod_templates

    used: dict[str, list[str]] = {}
    for doc in docs:
        if not table.may_hold(doc):
            continue
        was_loaded = doc.loaded
        data = doc.load()
        if not was_loaded:
            doc.data, doc.loaded = None, False
        for pt in find_pod_templates(data, table):
            spec = pt.template.get("spec") if isinstance(pt.template, dict) else None
            if pt.problems or not isinstance(spec, dict):
                continue
            ns = f"{pt.namespace}/" if pt.namespace else ""
            for _, _, c in podspec.containers(spec):
                image = c.get("image")
                if isinstance(image, str) and image not in PLACEHOLDERS:
                    used.setdefault(image, []).append(f"{pt.kind} {ns}{pt.name} container {c.get('name')!r}")
    return used


def resolve_stream(docs: list, table: Any, settings: Any) -> dict[str, ImageConfig | Failure]:
    """The configs of every image of the stream; with `settings.required`, ImageError
    naming each image that could not be had and where it is used."""
    used = stream_images(docs, table)
    found = lookup(list(used), settings)
    failed = [f for f in found.values() if isinstance(f, Failure)]
    if failed and settings.required:
        lines = [f"{f.reference!r} ({', '.join(used[f.reference][:3])}"
                 + (f", +{len(used[f.reference]) - 3} more" if len(used[f.reference]) > 3 else "")
                 + f"): {f.reason}" for f in failed]
        raise ImageError("--images-required: cannot read the config of "
                         + (lines[0] if len(lines) == 1 else f"{len(lines)} images:\n  " + "\n  ".join(lines)))
    return found
