"""Errors that old course code meets on today's libraries, explained in one sentence.

Real student code calls what numpy has since removed. When a student function raises one
of the errors below, the check's message names the removed API and what would run it: the
rubric's compatibility shim (``compat: {numpy_aliases: true}``, for the aliases removed in
numpy 1.24-2.0) or the course environment with numpy 1.26 (``environment: numpy1``, for
what numpy 2 removed; :mod:`grader.rubric.environments`). The other libraries' removed and
moved APIs (``scipy.misc.imresize``, ``skimage.measure.compare_ssim``, ...) are explained from
the table of :mod:`grader.intake.removed_apis`, which the lifting of notebooks reads too.
"""

from __future__ import annotations

import re

from grader.intake import removed_apis
from grader.worker.compat import REMOVED_NUMPY_NAMES

NUMPY1_ENVIRONMENT = "numpy1"  # assignments/environments/numpy1.yaml
_IN_NUMPY1 = f"numpy 1.26 runs it: the course environment `{NUMPY1_ENVIRONMENT}`"

_MISSING = re.compile(r"module 'numpy((?:\.\w+)*)' has no attribute '(\w+)'")
_NOT_IMPORTED = re.compile(r"cannot import name '(\w+)' from 'numpy((?:\.\w+)*)'")
_KEYWORD = re.compile(r"(\w+)\(\) got an unexpected keyword argument '(newshape)'")
_SCALAR = "only 0-dimensional arrays can be converted to Python scalars"


def explain(error: str) -> str | None:
    """Why ``error`` (an exception's ``Type: message``) comes from an API numpy or another
    library removed, and what runs it; ``None`` for any other error."""
    missing = _MISSING.search(error)
    if missing:
        return _removed_name(missing.group(1), missing.group(2))
    not_imported = _NOT_IMPORTED.search(error)
    if not_imported:  # from numpy import float
        return _removed_name(not_imported.group(2), not_imported.group(1))
    keyword = _KEYWORD.search(error)
    if keyword:
        return (f"np.{keyword.group(1)}'s {keyword.group(2)}= keyword was removed in numpy 2 "
                f"(use shape=); {_IN_NUMPY1}")
    if _SCALAR in error:
        return ("int() or float() of a one-element array that is not 0-d is an error in "
                f"numpy 2, deprecated since 1.25 (use .item()); {_IN_NUMPY1}")
    return removed_apis.explain(error)


def _removed_name(submodule: str, name: str) -> str | None:
    qualified = f"np{submodule}.{name}"
    if not submodule and name in REMOVED_NUMPY_NAMES:
        return (f"{qualified} was removed from numpy (1.24-2.0); the rubric option "
                "`compat: {numpy_aliases: true}` restores it")
    if submodule == ".lib":
        return (f"{qualified} was removed in numpy 2 (np.lib keeps only its submodules: "
                f"np.{name}); {_IN_NUMPY1}")
    if not submodule and name in NUMPY2_REMOVED:
        return f"{qualified} was removed in numpy 2; {_IN_NUMPY1}"
    return None


# names numpy 2.0 removed from the main namespace (NEP 52), besides the aliases of compat
NUMPY2_REMOVED = frozenset({
    "math", "cast", "find_common_type", "asfarray", "issubclass_", "deprecate",
    "deprecate_with_doc", "set_string_function", "safe_eval", "who", "disp", "source",
    "lookfor", "add_newdoc_ufunc", "compat", "byte_bounds", "compare_chararrays",
    "format_parser", "recfromcsv", "recfromtxt", "fastCopyAndTranspose", "geterrobj",
    "seterrobj", "issctype", "maximum_sctype", "obj2sctype", "sctype2char", "sctypes",
    "issubsctype", "set_numeric_ops", "DataSource", "nbytes", "cfloat", "longfloat",
    "singlecomplex", "clongfloat", "longcomplex", "Infinity", "NZERO", "PZERO", "row_stack",
    "trapz",
})
