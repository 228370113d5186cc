"""The documents' example app: webapp (nginx + app over localhost) and MySQL, Services of every type and
NetworkPolicies. The objects are pure data (``manifests``); ``flows`` lists the traffic the policies must
allow and deny, ``policy_eval`` evaluates NetworkPolicy semantics."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .example_app import ExampleApp, ExampleAppArgs
    from .manifests import SERVICE_NAMES, WEB_PORT_NAME

__getattr__, __all__ = lazy.exports(__name__, {
    "ExampleApp": "example_app",
    "ExampleAppArgs": "example_app",
    "SERVICE_NAMES": "manifests",
    "WEB_PORT_NAME": "manifests",
})
