"""The harness: reads the project and stack files like the CLI (``project``), runs the program in-process
(``engine``) with a recording mock monitor (``monitor``) whose mocks create resources in moto or the
simulated API server (``mocks``)."""
