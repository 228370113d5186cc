"""Elastic Load Balancing's log-delivery accounts: who writes a load balancer's access logs to S3. Plain data, for
the engine's ``aws.elb.getServiceAccount`` and the checks of a log bucket's policy.
"""

from __future__ import annotations

# Elastic Load Balancing's log-delivery account per region, what aws.elb.get_service_account answers
# (terraform-provider-aws's table, from the ELB user guide "Enable access logs": "Regions available before
# August 2022"; the China regions from the same table in the AWS China docs). Only the regions this project's
# tests use are modelled; others fail loudly.
ELB_ACCOUNTS = {"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
                "us-west-2": "797873946194", "cn-north-1": "638102146993", "cn-northwest-1": "037604701340"}


def elb_service_account(region: str, partition: str) -> dict:
    if region not in ELB_ACCOUNTS:
        raise NotImplementedError(f"the offline engine knows no Elastic Load Balancing account for {region}")
    account = ELB_ACCOUNTS[region]
    return {"id": account, "arn": f"arn:{partition}:iam::{account}:root", "region": region}
