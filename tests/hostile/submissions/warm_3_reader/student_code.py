"""Hostile (graded after warm_1_plant and warm_2_victim by the same worker): earns the right
answers only if warm_1_plant's daemon copied warm_2_victim's code to a place this sandbox
can read, i.e. if a process of one sandbox outlived it and read the next student's files."""

from attack import VICTIM_MARK, WARM_STOLEN, graded_if, left

my_imfilter, create_hybrid_image = graded_if(lambda: any(VICTIM_MARK in text
                                                         for text in left(WARM_STOLEN)))
