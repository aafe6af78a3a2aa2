"""Turning cloud providers' own hierarchy exports into directory node records.

Pure functions: the files' texts in, a :class:`Hierarchy` (node records, where each was
read, notes) out. See ``docs/importers.md`` for the exact input shapes and how they map
to nodes.
"""

from brightline.world.importers.aws import aws_organizations_records, read_aws_organizations
from brightline.world.importers.azure import (
    azure_management_group_records,
    read_azure_management_groups,
)
from brightline.world.importers.documents import SourceText
from brightline.world.importers.gcp import read_gcp_resource_manager
from brightline.world.importers.hierarchy import Hierarchy

__all__ = [
    "Hierarchy",
    "SourceText",
    "aws_organizations_records",
    "azure_management_group_records",
    "read_aws_organizations",
    "read_azure_management_groups",
    "read_gcp_resource_manager",
]
