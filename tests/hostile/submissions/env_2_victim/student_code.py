"""Control (graded right after env_1_plant, in the same course environment): an honest,
correct submission that returns zeros if the environment carries env_1_plant's files, or ran
its .pth at start. Its full marks show that a sandbox cannot change the environment that the
students after it run in."""

import os

from attack import ENV_PLANT, environment_packages, graded_if


def _poisoned() -> bool:
    planted = any(os.path.exists(os.path.join(environment_packages(), f"{ENV_PLANT}{suffix}"))
                  for suffix in (".pth", ".py"))
    return planted or ENV_PLANT.upper() in os.environ


my_imfilter, create_hybrid_image = graded_if(lambda: not _poisoned())
