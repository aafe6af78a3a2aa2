"""The customer directory, the service catalog and regions, and loading them from files."""

from brightline.world.attributes import (
    NodeAttributes,
    apply_attribute_overlay,
    read_attribute_overlay,
)
from brightline.world.load import (
    CATALOG_FILE,
    DIRECTORY_FILE,
    NodeRecord,
    build_directory,
    load_catalog,
    load_directory,
    load_world,
)
from brightline.world.model import (
    ID_PATTERN,
    SERVICE_ID_PATTERN,
    SERVICE_TAGS,
    AttrValue,
    BrokenTreeError,
    Catalog,
    Directory,
    DirectoryParts,
    Node,
    Region,
    Service,
    World,
)
from brightline.world.sources import LocatedYaml, format_path, parse_yaml, read_yaml

__all__ = [
    "CATALOG_FILE",
    "DIRECTORY_FILE",
    "ID_PATTERN",
    "SERVICE_ID_PATTERN",
    "SERVICE_TAGS",
    "AttrValue",
    "BrokenTreeError",
    "Catalog",
    "Directory",
    "DirectoryParts",
    "LocatedYaml",
    "Node",
    "NodeAttributes",
    "NodeRecord",
    "Region",
    "Service",
    "World",
    "apply_attribute_overlay",
    "build_directory",
    "format_path",
    "load_catalog",
    "load_directory",
    "load_world",
    "parse_yaml",
    "read_attribute_overlay",
    "read_yaml",
]
