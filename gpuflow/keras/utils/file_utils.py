"""``keras.utils.get_file``: a file from a URL, cached under Keras's cache root and checked against its hash.

Follows ``keras/src/utils/file_utils.py`` (Keras 3.15): the same arguments, defaults, cache layout
(``$KERAS_HOME/<cache_subdir>/<fname>``, default ``~/.keras/datasets/``; ``/tmp/.keras/`` when the cache root
cannot be written), hash rules (``hash_algorithm="auto"``: SHA-256 for a 64-digit hash, else MD5; a cached
file with the wrong hash is downloaded again) and extraction folders, so a file Keras already downloaded is
reused and one gpuflow downloads is where Keras looks for it.

Differences, all on the side of not losing data: a download is streamed to a temporary file beside the
target and renamed into place only once its hash matches (an interrupted or corrupt download never replaces
a file); offline, the error lists where the file was looked for and how to place it; archives are extracted
only if every member stays inside the extraction folder (no absolute paths, ``..`` or links out of it).
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

__all__ = ["get_file", "download", "hash_file", "validate_file", "extract_archive", "keras_home", "open_url"]

DOWNLOAD_TIMEOUT_S = 60
_HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def keras_home():
    """Keras's cache root: ``$KERAS_HOME``, else ``~/.keras`` (``keras.src.backend.config.keras_home``)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def open_url(url):
    """Opens ``url`` for reading: the one place gpuflow touches the network (tests replace it)."""
    return urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)


def _resolve_algorithm(algorithm, file_hash):
    if algorithm == "auto":
        return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    if algorithm not in _HASH_NAMES:
        raise ValueError(f"Unknown hash algorithm. Expected 'auto', 'sha256' or 'md5'. Received: "
                         f"hash_algorithm={algorithm!r}")
    return algorithm


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """The hex digest of the file at ``fpath`` (``"sha256"`` or ``"md5"``; Keras's ``hash_file``)."""
    h = hashlib.new(algorithm)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    """Whether the file's hash equals ``file_hash`` (Keras's ``validate_file``)."""
    return hash_file(fpath, _resolve_algorithm(algorithm, file_hash), chunk_size) == str(file_hash)


def download(url, dest, file_hash=None, algorithm="sha256"):
    """Downloads ``url`` to ``dest`` atomically, checking its hash.

    The data is streamed to a temporary file beside ``dest``, hashed on the way, and renamed onto ``dest``
    only when the hash matches; on any failure the temporary file is removed, so ``dest`` is either
    unchanged or complete.

    Args:
        url: the origin.
        dest: final path; its directory is created if needed.
        file_hash: the expected hex digest of ``algorithm``, lowercase; None checks nothing.
        algorithm: ``"sha256"`` or ``"md5"``.

    Returns:
        ``dest``.

    Raises:
        OSError: the network or the disk failed (``urllib.error.URLError`` is one).
        ValueError: the downloaded file's digest differs from ``file_hash`` (the download is discarded).
    """
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    print(f"Downloading data from {url}")
    directory, name = os.path.split(dest)
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=name + ".", suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(fd, "wb") as out, open_url(url) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if file_hash is not None and digest.hexdigest() != file_hash:
            raise ValueError(f"Checksum mismatch for {url}: expected {_HASH_NAMES[algorithm]} {file_hash}, "
                             f"received {digest.hexdigest()}. The download was discarded; try again, or fetch the "
                             "file by other means.")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def _inside(root, name):
    root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, name))
    return target == root or target.startswith(root + os.sep)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar or zip archive into ``path`` (Keras's ``extract_archive``).

    Args:
        file_path: the archive.
        path: the folder to extract into.
        archive_format: ``"auto"`` (tar, then zip), ``"tar"``, ``"zip"``, a list of those, or None (none).

    Returns:
        True if the archive was extracted, False if it is of none of the formats.

    Raises:
        ValueError: a member would land outside ``path`` (an absolute path, ``..``, or a link out of it);
            nothing is extracted then.
    """
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for fmt in formats:
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                members = archive.getmembers()
                for m in members:
                    bad = not _inside(path, m.name) or (
                        (m.issym() or m.islnk()) and not _inside(path, os.path.join(os.path.dirname(m.name),
                                                                                    m.linkname)))
                    if bad or m.isdev():
                        raise ValueError(f"extract_archive: {file_path} has a member that would be written outside "
                                         f"{path!r} or is a device. Received: member {m.name!r}")
                archive.extractall(path, members=members)
            return True
        if fmt == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                for name in archive.namelist():
                    if not _inside(path, name):
                        raise ValueError(f"extract_archive: {file_path} has a member that would be written outside "
                                         f"{path!r}. Received: member {name!r}")
                archive.extractall(path)
            return True
    return False


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Downloads a file from a URL if it is not already in the cache (``keras.utils.get_file``).

    Args:
        fname: the file's name in the cache; None takes the last part of ``origin``'s path. Not a path.
        origin: the URL.
        untar: deprecated (Keras): ``extract=True`` with ``archive_format="tar"``.
        md5_hash: deprecated (Keras): ``file_hash`` with ``hash_algorithm="md5"``.
        file_hash: the expected SHA-256 or MD5 hex digest; None checks nothing.
        cache_subdir: the folder under the cache root.
        hash_algorithm: ``"auto"``, ``"sha256"`` or ``"md5"``.
        extract: extract the archive; the extraction folder is returned.
        archive_format: ``"auto"``, ``"tar"``, ``"zip"``, a list of those, or None.
        cache_dir: the cache root (default ``$KERAS_HOME``, else ``~/.keras``).
        force_download: download even if the file is cached.

    Returns:
        The path of the file (or of the extraction folder with ``extract``/``untar``).

    Raises:
        ValueError: no ``origin``; ``fname`` is a path or cannot be derived; a download's hash differs (the
            file is discarded).
        FileNotFoundError: the file is not cached and the download failed (offline): the message names the
            places looked in, the URL, and where to copy the file.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    root = os.path.expanduser(cache_dir if cache_dir is not None else keras_home())
    bases = [root]
    if os.path.exists(root) and not os.access(root, os.W_OK):
        bases.append(os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras"))
    provided = fname is not None
    fname = os.fspath(fname) if provided else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. Please specify the "
                         "`fname` argument.")
    if os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={fname}")
    algorithm = _resolve_algorithm(hash_algorithm, file_hash)

    def layout(datadir):
        if not (extract or untar):
            return os.path.join(datadir, fname), None
        if provided and "." in fname:
            return os.path.join(datadir, fname), os.path.join(datadir, fname[:fname.find(".")] + "_extracted")
        return os.path.join(datadir, fname + "_archive"), os.path.join(datadir, fname)

    candidates = [layout(os.path.join(b, cache_subdir)) for b in bases]
    target, extraction_dir = candidates[-1]
    stale = None
    for cand_target, cand_dir in candidates:
        if not force_download and os.path.isfile(cand_target):
            if file_hash is None or validate_file(cand_target, file_hash, algorithm):
                target, extraction_dir = cand_target, cand_dir
                break
            print("A local file was found, but it seems to be incomplete or outdated because the "
                  f"{algorithm} file hash does not match the original value of {file_hash} so we will "
                  "re-download the data.")
            stale, target, extraction_dir = cand_target, cand_target, cand_dir
    else:
        try:
            download(origin, target, file_hash, algorithm)
        except (urllib.error.URLError, OSError) as e:
            if stale is not None:
                raise ValueError(f"{stale}: its {algorithm} hash {hash_file(stale, algorithm)} does not match "
                                 f"{file_hash} (incomplete or outdated), and downloading it again from {origin} "
                                 f"failed ({type(e).__name__}: {e}). Replace the file with the one at "
                                 f"{origin}.") from None
            looked = "\n".join(f"  - {t}: not there" for t, _ in candidates)
            raise FileNotFoundError(
                f"{os.path.basename(target)} is not on this machine and could not be downloaded. Looked in:\n"
                f"{looked}\n  - download {origin}: {type(e).__name__}: {e}\n"
                f"To use it offline, download {origin} on a connected machine "
                f"({algorithm + ' ' + file_hash if file_hash else 'no hash given'}) and copy it to {target} "
                "(set KERAS_HOME or pass cache_dir= to use another cache root).") from None
    if extract or untar:
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target
