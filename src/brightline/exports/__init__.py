"""Renderings of a snapshot in other policy languages: Cedar, AWS SCPs, Azure Policy and
Google Cloud Organization Policy."""

from brightline.exports.aws_scp import (
    Scp,
    ScpExport,
    ScpTarget,
    attachment_nodes,
    export_aws_scp,
)
from brightline.exports.azure_documents import (
    PolicyAssignment,
    PolicyDefinition,
    PolicySetDefinition,
)
from brightline.exports.azure_policy import AzurePolicyExport, export_azure_policy
from brightline.exports.cedar import (
    BASELINE_ID,
    CedarExport,
    export_cedar,
    policy_ids,
    policy_set_text,
    render_entities,
    request_for,
)
from brightline.exports.cloud import Gap, RestrictionReport, Status
from brightline.exports.gcp_org_policy import (
    CustomConstraint,
    OrgPolicy,
    OrgPolicyExport,
    export_gcp_org_policy,
    gcp_resource,
)
from brightline.exports.maps import (
    AwsActionMap,
    AzureTypeMap,
    GcpRule,
    GcpServiceMap,
    load_aws_map,
    load_azure_map,
    load_gcp_map,
)
from brightline.exports.scp_packing import (
    RESERVED_PER_TARGET,
    SCP_SIZE_LIMIT,
    SCPS_PER_TARGET,
    grammar_problems,
)

__all__ = [
    "BASELINE_ID",
    "RESERVED_PER_TARGET",
    "SCPS_PER_TARGET",
    "SCP_SIZE_LIMIT",
    "AwsActionMap",
    "AzurePolicyExport",
    "AzureTypeMap",
    "CedarExport",
    "CustomConstraint",
    "Gap",
    "GcpRule",
    "GcpServiceMap",
    "OrgPolicy",
    "OrgPolicyExport",
    "PolicyAssignment",
    "PolicyDefinition",
    "PolicySetDefinition",
    "RestrictionReport",
    "Scp",
    "ScpExport",
    "ScpTarget",
    "Status",
    "attachment_nodes",
    "export_aws_scp",
    "export_azure_policy",
    "export_cedar",
    "export_gcp_org_policy",
    "gcp_resource",
    "grammar_problems",
    "load_aws_map",
    "load_azure_map",
    "load_gcp_map",
    "policy_ids",
    "policy_set_text",
    "render_entities",
    "request_for",
]
