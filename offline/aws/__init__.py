"""The simulated AWS: moto's backends plus what AWS enforces that moto does not. ``context`` holds the shared
state, ``ec2``/``iam``/``eks`` the handlers per resource type, ``rules`` the checks moto lacks."""

from . import region_lists

region_lists.install()  # before anything imports moto, which asks for region lists as it imports
