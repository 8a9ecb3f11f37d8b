"""Helpers the course provides for Project 2 (F18 ``utils.py``): loading images and the ground
truth, drawing interest points and matches, and the notebook's accuracy evaluation.

Written for this kit from the course's description of its helpers (the same names and
arguments). The handout asks students not to modify ``utils.py``; the grader puts this copy in
place of any ``utils.py`` a submission holds (``provided:`` in the rubric), so that an edited
one (say, an import of an OpenCV module that has since gone) costs no point.
"""

import pickle

import numpy as np


def load_image(path):
    """(H, W, 3) float32 RGB image in [0, 1]."""
    from PIL import Image

    with Image.open(path) as handle:
        return np.asarray(handle.convert("RGB"), dtype=np.float32) / np.float32(255)


def load_corr_pkl_file(corr_file_path):
    """The ground-truth correspondences of an image pair: ``(x1, y1, x2, y2)``, each (N,), in
    full-resolution pixels."""
    with open(corr_file_path, "rb") as handle:
        data = pickle.load(handle, encoding="latin1")
    return tuple(np.asarray(data[key], dtype=np.float64).reshape(-1) for key in ("x1", "y1", "x2", "y2"))


def cheat_interest_points(eval_file, scale_factor):
    """The ground-truth points at the working scale, ``(x1, y1, x2, y2)``: for development only,
    never in a hand-in."""
    return tuple(values * scale_factor for values in load_corr_pkl_file(eval_file))


def show_interest_points(img, X, Y):
    """A copy of ``img`` with a ring around each point ``(X[i], Y[i])``."""
    canvas = _rgb(img)
    for x, y in zip(np.ravel(X), np.ravel(Y)):
        _ring(canvas, x, y, (0.0, 1.0, 0.0))
    return canvas


def show_correspondence_circles(imgA, imgB, X1, Y1, X2, Y2):
    """Both images side by side, a ring of one colour per match on each."""
    canvas, offset = _side_by_side(imgA, imgB)
    for colour, x1, y1, x2, y2 in _matches(X1, Y1, X2, Y2):
        _ring(canvas, x1, y1, colour)
        _ring(canvas, x2 + offset, y2, colour)
    return canvas


def show_correspondence_lines(imgA, imgB, X1, Y1, X2, Y2, line_colors=None):
    """Both images side by side, each match a line from image A to image B."""
    canvas, offset = _side_by_side(imgA, imgB)
    for index, (colour, x1, y1, x2, y2) in enumerate(_matches(X1, Y1, X2, Y2)):
        if line_colors is not None:
            colour = tuple(line_colors[index])
        _line(canvas, x1, y1, x2 + offset, y2, colour)
    return canvas


def evaluate_correspondence(imgA, imgB, corr_file, scale_factor, x1_est, y1_est, x2_est, y2_est,
                            confidences=None, num_req_matches=100):
    """The notebook's accuracy of the first ``num_req_matches`` matches (the course's procedure:
    nearest ground-truth point within 150 px whose displacement differs by under 25 px) and a
    picture of them, correct ones green and wrong ones red: ``(accuracy, image)``.

    Runs the grader's copy of the course's procedure, so it needs the grader installed (as the
    kit's self-check has it); the grader evaluates a hand-in's matches itself.
    """
    try:
        from grader.datasets.course_evaluation import evaluate_correspondence as evaluate
    except ImportError:
        raise ImportError("evaluate_correspondence needs the grader installed (pip install the "
                          "course's grader, as for the kit's self-check)") from None
    x1, y1, x2, y2 = load_corr_pkl_file(corr_file)
    result = evaluate(x1_est, y1_est, x2_est, y2_est, {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                      scale_factor, num_req_matches)
    shown = len(result.correct)
    colours = [(0.0, 1.0, 0.0) if right else (1.0, 0.0, 0.0) for right in result.correct]
    picture = show_correspondence_lines(imgA, imgB, *(np.ravel(v)[:shown] for v in (
        x1_est, y1_est, x2_est, y2_est)), line_colors=colours)
    return result.accuracy, picture


def _rgb(img):
    image = np.asarray(img, dtype=np.float32)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3].copy()


def _side_by_side(imgA, imgB):
    a, b = _rgb(imgA), _rgb(imgB)
    canvas = np.zeros((max(a.shape[0], b.shape[0]), a.shape[1] + b.shape[1], 3), np.float32)
    canvas[:a.shape[0], :a.shape[1]] = a
    canvas[:b.shape[0], a.shape[1]:] = b
    return canvas, a.shape[1]


def _matches(X1, Y1, X2, Y2):
    colours = np.random.default_rng(0).random((np.size(X1), 3))
    return zip(map(tuple, colours), np.ravel(X1), np.ravel(Y1), np.ravel(X2), np.ravel(Y2))


def _ring(canvas, x, y, colour, radius=6):
    angles = np.linspace(0, 2 * np.pi, 8 * radius, endpoint=False)
    _paint(canvas, x + radius * np.cos(angles), y + radius * np.sin(angles), colour)


def _line(canvas, x1, y1, x2, y2, colour):
    steps = int(max(abs(x2 - x1), abs(y2 - y1))) + 1
    _paint(canvas, np.linspace(x1, x2, steps), np.linspace(y1, y2, steps), colour)


def _paint(canvas, xs, ys, colour):
    cols, rows = np.rint(xs).astype(int), np.rint(ys).astype(int)
    inside = (rows >= 0) & (rows < canvas.shape[0]) & (cols >= 0) & (cols < canvas.shape[1])
    canvas[rows[inside], cols[inside]] = colour
