"""The stack's invariants as a Pulumi policy pack (CrossGuard, pulumi-policy).

    pulumi preview --policy-pack policypack            # against real AWS, in CI and on a workstation
    python -m offline --policy-pack policypack         # the same policies over the offline engine's run

``registry`` turns rule functions into pulumi-policy policies (adding a rule is one decorated function in
``rules/``); ``plan`` is the stack as the rules read it: plain props, parents and property dependencies, values
unknown during preview marked field by field. ``__main__`` builds the PolicyPack (its constructor starts the
analyzer's gRPC server, so nothing else constructs one).
"""
