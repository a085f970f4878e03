"""Stacks of the CDK app: they compose constructs from constructs_lib and wire them together."""
