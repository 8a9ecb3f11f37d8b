"""Hostile (every student graded after it in the same course environment): writes a .pth file
(which every later interpreter of the environment runs at start) and a module into the
environment's site-packages, the venv's own. It scores nothing itself: env_2_victim, graded
after it by the same worker, shows whether the plant landed."""

import os

from attack import ENV_PLANT, environment_packages, zeros_after

FILES = {f"{ENV_PLANT}.pth": f"import os; os.environ['{ENV_PLANT.upper()}'] = '1'\n",
         f"{ENV_PLANT}.py": "PLANTED = True\n"}


def _plant():
    for name, text in FILES.items():
        try:
            with open(os.path.join(environment_packages(), name), "w") as handle:
                handle.write(text)
        except OSError:
            continue


my_imfilter, create_hybrid_image = zeros_after(_plant)
