"""Turning cloud providers' own hierarchy exports into directory node records.

Pure functions: JSON in, :class:`~brightline.world.NodeRecord` list out. See
``docs/importers.md`` for the exact input shapes and how they map to nodes.
"""

from brightline.world.importers.aws import aws_organizations_records
from brightline.world.importers.azure import azure_management_group_records

__all__ = ["aws_organizations_records", "azure_management_group_records"]
