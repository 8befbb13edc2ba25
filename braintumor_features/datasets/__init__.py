"""Data sets: class-per-folder trees, the figshare release, a synthetic demo set.

Also :func:`find_duplicates`, which finds identical and near-identical
images, so that a train/test split that shares them can be caught.
"""

from ._demo import make_demo
from ._duplicates import find_duplicates, merge_duplicate_groups, shared_duplicates
from ._figshare import (
    FIGSHARE_ARTICLE,
    FIGSHARE_LABELS,
    FIGSHARE_REGISTRY,
    FIGSHARE_URLS,
    MatArray,
    fetch_figshare,
    load_figshare,
)
from ._folders import (
    CLASS_NAMES,
    IMAGE_SUFFIXES,
    is_image_file,
    load_folder,
    load_folders,
)

__all__ = [
    "CLASS_NAMES",
    "FIGSHARE_ARTICLE",
    "FIGSHARE_LABELS",
    "FIGSHARE_REGISTRY",
    "FIGSHARE_URLS",
    "IMAGE_SUFFIXES",
    "MatArray",
    "fetch_figshare",
    "is_image_file",
    "find_duplicates",
    "load_figshare",
    "load_folder",
    "load_folders",
    "make_demo",
    "merge_duplicate_groups",
    "shared_duplicates",
]
