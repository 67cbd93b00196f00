"""The pure parts of the `whisper-py` plugin: cutting utterances, resampling, the wire format and
the retry rules. Nothing here imports the host's bindings (`wit_world`), so these modules run and
are tested with any Python 3 (`python3 -m unittest discover -s tests`)."""
