"""Hostile (escape): looks for the answer key on disk (the repository, the editable
install's path mapping, site-packages) and, if it can read it, returns the reference's own
output, which would earn every point. Under bubblewrap there is nothing to find: it raises."""

import ast
import glob
import os
import sys


def _repo_roots():
    roots = ["/work/main"]
    for entry in sys.path:
        for finder in glob.glob(os.path.join(entry, "__editable__*finder.py")):
            try:
                with open(finder) as handle:
                    for line in handle:
                        if line.startswith("MAPPING"):
                            mapping = ast.literal_eval(line.split("=", 1)[1].strip())
                            roots += [os.path.dirname(p) for p in mapping.values()]
            except (OSError, ValueError, SyntaxError):
                pass
        roots.append(entry)
    return roots


def _reference():
    for root in _repo_roots():
        path = os.path.join(root, "reference", "filtering.py")
        try:
            with open(path) as handle:
                source = handle.read()
        except OSError:
            continue
        namespace = {"__name__": "stolen_reference"}
        exec(compile(source, path, "exec"), namespace)
        return namespace
    raise RuntimeError("the reference is not readable from the sandbox")


def my_imfilter(image, filter):
    return _reference()["my_imfilter"](image, filter)


def create_hybrid_image(image1, image2, filter):
    return _reference()["create_hybrid_image"](image1, image2, filter)
