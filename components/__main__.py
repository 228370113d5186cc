"""The k8snet component provider: serves the components to Pulumi stacks in any language.

Pulumi runs this folder (``python components <engine address>``) after ``pulumi package add``; the schema
(inputs, outputs, descriptions) is read from the components' typed args and annotations.
"""

from importlib import metadata


def main() -> None:
    from pulumi.provider.experimental import component_provider_host

    import k8snet

    components = [getattr(k8snet, name) for name in k8snet.COMPONENTS]
    component_provider_host(components, name="k8snet", version=metadata.version("k8snet"))


if __name__ == "__main__":
    main()
