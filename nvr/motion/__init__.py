"""Motion detection: decoded sub-stream frames in, motion verdicts and events out."""
