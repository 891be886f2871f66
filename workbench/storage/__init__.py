"""The file layer: files at a local path or an fsspec URL, written whole (atomic rename, one PUT),
listed, read many at once and hashed (`files`); DuckDB's read-through filesystem over a manifest's
files (`duckdb`); the chunk cache's root (`cache`).

Everything callers use is re-exported here; `workbench.storage.files` says where a URL's options
come from and what each write guarantees.
"""

from __future__ import annotations

from workbench.storage.cache import cache_join, cache_url
from workbench.storage.duckdb import KnownFiles, for_duckdb
from workbench.storage.files import (
    OPTIONS_ENV,
    Location,
    age_s,
    arrow_fs,
    atomic_write,
    exists,
    file_token,
    folders,
    forget,
    full_url,
    get,
    get_many,
    has_scheme,
    is_url,
    join,
    listing,
    local_fs,
    location,
    names,
    open_input,
    put,
    read_json,
    relative,
    remove,
    sha256_file,
    size,
    split,
    storage_options,
    url_fs,
    write_json,
    write_with,
)

__all__ = [
    "OPTIONS_ENV",
    "KnownFiles",
    "Location",
    "age_s",
    "arrow_fs",
    "atomic_write",
    "cache_join",
    "cache_url",
    "exists",
    "file_token",
    "folders",
    "for_duckdb",
    "forget",
    "full_url",
    "get",
    "get_many",
    "has_scheme",
    "is_url",
    "join",
    "listing",
    "local_fs",
    "location",
    "names",
    "open_input",
    "put",
    "read_json",
    "relative",
    "remove",
    "sha256_file",
    "size",
    "split",
    "storage_options",
    "url_fs",
    "write_json",
    "write_with",
]
