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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import HardenError
from ..kube import podspec
from . import Failure, ImageConfig, from_config

POOL = 8


class ImageError(HardenError):
    """--images-required and an image config that could not be had; or a bad --images folder."""


def _from_registry(text: str, settings: Any, client: Any, cache: Any) -> ImageConfig | Failure:
    from . import reference
    from .registry import RegistryError, config_digest

    try:
        ref = reference.parse(text)
    except ValueError as exc:
        return Failure(text, f"not an image reference: {exc}")
    platform = "/".join(p for p in settings.platform if p)
    key = f"{ref}|{platform}"
    try:
        digest = cache.resolved(key, immutable=ref.digest is not None) if cache else None
        blob = cache.blob(digest) if digest else None
        source = "cache"
        if blob is None:
            _, manifest = client.manifest(ref, settings.platform)
            digest = config_digest(manifest)
            blob = cache.blob(digest) if cache else None
            if blob is None:
                blob = client.config_blob(ref, digest)
                source = "registry"
                if cache:
                    cache.put_blob(digest, blob)
            if cache:
                cache.put_resolved(key, digest)
        data = json.loads(blob)
    except RegistryError as exc:
        return Failure(text, str(exc))
    except ValueError:
        return Failure(text, "the config blob is not JSON")
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
    from .registry import Client

    client = client or Client(settings.insecure)
    cache = Cache(settings.cache or default_dir())
    if len(refs) == 1:
        return {refs[0]: _from_registry(refs[0], settings, client, cache)}
    with ThreadPoolExecutor(max_workers=min(POOL, len(refs))) as pool:
        found = list(pool.map(lambda r: _from_registry(r, settings, client, cache), refs))
    return dict(zip(refs, found))


def stream_images(docs: list, table: Any) -> dict[str, list[str]]:
    """Every image reference of the stream's pod templates -> where it is used
    (`Kind ns/name container 'c'`), in order of first use."""
    from ..kube.workloads import find_pod_templates

    used: dict[str, list[str]] = {}
    for doc in docs:
        if doc.root != "mapping" or not (table.may_contain(doc.kind, doc.api_version)
                                         or table.may_hide(doc.kind, doc.api_version, doc.text)):
            continue
        for pt in find_pod_templates(doc.load(), table):
            spec = pt.template.get("spec") if isinstance(pt.template, dict) else None
            if pt.problems or not isinstance(spec, dict):
                continue
            ns = f"{pt.namespace}/" if pt.namespace else ""
            for _, _, c in podspec.containers(spec):
                image = c.get("image")
                if isinstance(image, str):
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
