"""`music-emotion` and `python -m music_emotion`: predict / export / app, or Kedro's run (`serving/cli.py`)."""

import sys

from music_emotion.serving.cli import main

if __name__ == "__main__":
    sys.exit(main())
