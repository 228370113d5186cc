"""The documents' packet walk on real Linux: the stack's state emulated in network namespaces (see
docs/dataplane.md)."""
