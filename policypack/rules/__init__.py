"""The pack's rules, one module per concept (each decorated function is a policy; see ../registry.py)."""
