"""What every stack of the app shares."""

from __future__ import annotations

from aws_cdk import Fn, Stack

AZ_COUNT = 2


class LookupFreeStack(Stack):
    """A stack that never asks the account for its availability zones.

    With an account and region set (a deployment stage), ``ec2.Vpc`` would look the zones up at
    synth time, which needs credentials and writes ``cdk.context.json``. ``Fn::GetAZs`` picks them at
    deploy time instead, so synth stays offline in every stage.
    """

    @property
    def availability_zones(self) -> list[str]:
        return [Fn.select(index, Fn.get_azs()) for index in range(AZ_COUNT)]
