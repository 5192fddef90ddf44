"""The built-in demo doorbell: synthetic porch footage, encoded and served as a live camera.

``scene`` makes footage with ground truth (also used by tests and the motion evaluation),
``encode`` turns it into H.264 (files, or a live real-time feed), and ``rtsp_server``
serves the live feed as an RTSP camera on loopback, so ``nvr demo`` ingests it through the
same capture path as a real doorbell. See docs/design/demo-and-ingest.md.
"""
