"""Where the example app's shipped files live; the ConfigMaps and the tests read the same files."""

from pathlib import Path

APP_FILES = Path(__file__).parent / "app_files"
