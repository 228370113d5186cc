"""Resource options for a component's children: the parent, and the ordering the component was given.

Ordering and the provider reach a component through its ``opts``, as in every Pulumi component. The
provider needs nothing here: a component's ``provider=``/``providers=`` fill its provider bag, which
children with ``parent=`` inherit by package (pulumi/resource.py, ``Resource._get_providers``). Its
``depends_on`` is different: it holds back the component's own registration, not its children's, so a
component passes it on to the children that must wait (``dependencies``).
"""

from collections.abc import Sequence
from typing import Optional

import pulumi


def dependencies(opts: Optional[pulumi.ResourceOptions]) -> list:
    """What the component was told to wait for (``opts.depends_on``), always as a list."""
    given = opts.depends_on if opts is not None else None
    if given is None:
        return []
    return [given] if isinstance(given, pulumi.Resource) else list(given)


def child(parent: pulumi.Resource, after: Sequence = (), **options) -> pulumi.ResourceOptions:
    """Options of a child: ``parent``, waiting for ``after`` (and any other option given)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(after) or None, **options)
