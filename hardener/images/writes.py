"""Where well-known images write on their root filesystem at start, outside the volumes
their image declares, so a read-only root filesystem can be predicted to break them.

A path an image declares as a `VOLUME` is not listed: containerd's CRI plugin gives every
image volume the pod mounts nothing at a writable directory of its own (internal/cri/server/
container_create.go volumeMounts), so it stays writable under `readOnlyRootFilesystem`; CRI-O
does not (its default `image_volumes = "mkdir"` only makes the directory in the read-only
root), and charts mount their data volumes there as a rule.
Each entry cites the line of the image's own Dockerfile, entrypoint or default
configuration that shows the write. Only official images in their default configuration
are listed; a chart that moves the path (a config file, an env var) may not write there.
"""

from __future__ import annotations

from functools import lru_cache

from ..record import FrozenRecord


class Write(FrozenRecord):
    """A path an image writes at start (`path`, a directory or the file's directory) and
    what it writes there (`what`, said in the warning)."""

    __slots__ = _fields = ("path", "what")

    def __init__(self, path: str, what: str) -> None:
        self._init(path, what)


#: repository (as hardener.images.reference normalises it, without the registry) -> writes.
WRITES: dict[str, tuple[Write, ...]] = {
    # docker-library/postgres Dockerfile: `mkdir -p /var/run/postgresql && chown -R
    # postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql` beside
    # `VOLUME /var/lib/postgresql/data` (18+: /var/lib/postgresql): the server's unix socket
    # and its lock file go there (unix_socket_directories)
    "library/postgres": (Write("/var/run/postgresql", "its unix socket and lock file"),),
    # docker-library/mysql Dockerfile: `mkdir -p /var/lib/mysql /var/run/mysqld && chown -R
    # mysql:mysql ... && chmod 1777 /var/run/mysqld /var/lib/mysql`, `VOLUME /var/lib/mysql`
    "library/mysql": (Write("/var/run/mysqld", "its socket and pid file"),),
    # MariaDB/mariadb-docker Dockerfile: "ensure that /run/mysqld (used for socket and lock
    # files) is writable regardless of the UID our mysqld instance ends up having at runtime"
    "library/mariadb": (Write("/run/mysqld", "its socket and lock files"),),
    # nginxinc/docker-nginx: nginx is built with --http-client-body-temp-path=
    # /var/cache/nginx/client_temp (proxy_temp, fastcgi_temp, ... beside it), created at
    # start ("mkdir() \"/var/cache/nginx/client_temp\" failed (30: Read-only file system)");
    # its nginx.conf has `pid /var/run/nginx.pid`
    "library/nginx": (Write("/var/cache/nginx", "its temp files"), Write("/var/run", "nginx.pid")),
    # docker-library/httpd: the default PidFile logs/httpd.pid under ServerRoot
    # /usr/local/apache2 ("(30)Read-only file system: AH00099: could not create
    # /usr/local/apache2/logs/httpd.pid")
    "library/httpd": (Write("/usr/local/apache2/logs", "httpd.pid"),),
}


@lru_cache(maxsize=1024)
def _repository(image: str) -> str | None:
    """The image's repository without the registry (`library/nginx`), also for Docker Hub's
    mirrors (`mirror.gcr.io/library/nginx`, `public.ecr.aws/docker/library/nginx`)."""
    from .reference import parse

    try:
        repository = parse(image).repository
    except ValueError:
        return None
    return repository[len("docker/"):] if repository.startswith("docker/library/") else repository


def _same_or_below(path: str, mount: str) -> bool:
    """A write to `path` lands in a volume mounted at `mount` (the path itself or above it).
    /var/run is /run on every image listed (a symlink), and a mount follows it."""
    path, mount = _run(path.rstrip("/") or "/"), _run(mount.rstrip("/") or "/")
    return path == mount or mount == "/" or path.startswith(mount + "/")


def _run(path: str) -> str:
    return "/run" + path[len("/var/run"):] if path == "/var/run" or path.startswith("/var/run/") else path


def uncovered_writes(image: str, writable_mounts: list[str], writable_paths: list[str]) -> list[Write]:
    """The writes of `image` (when it is listed) that none of the container's writable
    mounts nor the profile's writablePaths will take."""
    writes = WRITES.get(_repository(image) or "", ())
    covered = [*writable_mounts, *writable_paths]
    return [w for w in writes if not any(_same_or_below(w.path, m) for m in covered)]
