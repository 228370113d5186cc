"""The simulated Kubernetes API server (``api_server``): objects validated against the official OpenAPI
schemas and the vendored CRDs (``schemas``, ``crds/``), refused and filled in as the API server would."""
