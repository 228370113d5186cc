"""What every domain uses: AWS tags, IAM documents and roles, the node-name label, Kubernetes manifests
as resources, and children's resource options. Imports nothing else of k8snet."""
