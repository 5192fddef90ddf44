"""Suite-wide fixtures: real test cameras, network namespaces, synthetic footage.

They live in ``tests/support`` (one module per component, each with its contract in its
docstring); docs/testing.md says what each gives and how to run the groups.
"""

pytest_plugins = [
    "tests.support.procs",
    "tests.support.netns",
    "tests.support.rtsp_server",
    "tests.support.footage",
    "tests.support.demo_camera",
    "tests.support.small_fs",
    "tests.support.age_cli",
    "tests.support.browser",
    "tests.support.mosquitto",
]
