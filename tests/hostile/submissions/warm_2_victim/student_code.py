"""Control (graded right after warm_1_plant by the same worker): an honest, correct
submission that a plant poisons. If it finds a file warm_1_plant left, or the numpy that
warm_1_plant changed, it returns zeros: its full marks show that the sandbox before it left
nothing behind. Its source carries the mark GRADER_HOSTILE_VICTIM_SOURCE that warm_1_plant's
daemon looks for."""

import numpy as np

from attack import WARM_PLANT, graded_if, left


def _poisoned() -> bool:
    return bool(left(WARM_PLANT)) or hasattr(np, "grader_hostile_planted") or np.add(1, 1) != 2


my_imfilter, create_hybrid_image = graded_if(lambda: not _poisoned())
