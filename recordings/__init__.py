"""Recording and the transcript writer (the recording issue): encoded media to WebM, no
transcoding; beside the media path, never stalling it."""
