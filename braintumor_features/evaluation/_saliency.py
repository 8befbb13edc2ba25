"""Where a fitted model looks: saliency maps, and how much of them lies on the tumour.

:func:`saliency_map` computes, for one image, how much each pixel's
neighbourhood supports the predicted (or a chosen) class: by occlusion
sensitivity (Zeiler and Fergus 2014) for any fitted pipeline whose final
estimator has ``predict_proba``, or by the final estimator's own class
activation map where it offers one (a method
``class_activation_map(image, target)``, Zhou et al. 2016). The map is
computed on the canonical image (the output of the pipeline's image steps)
and brought back to the original image's coordinates through the crop,
resize and padding of those steps. :func:`saliency_scores` measures a map
against a tumour outline: the energy-based pointing game (Wang et al. 2020,
Score-CAM), the pointing game (Zhang et al. 2018) and the share of evidence
outside the head.
"""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.pipeline import Pipeline

from .._utils import head_mask
from ..exceptions import OutOfDistributionWarning, SkippedImagesWarning
from ..features import FeatureExtractor
from ..images import ImageSequence, load_item

__all__ = ["saliency_map", "saliency_maps", "saliency_scores", "outline_scores", "SALIENCY_SCORES"]

#: The keys of :func:`saliency_scores`' result, in order.
SALIENCY_SCORES = ("energy_inside", "pointing_hit", "outside_head", "outline_share",
                   "times_outline_share")

_METHODS = ("auto", "occlusion", "cam")
_OCCLUDERS = ("blur", "mean")


def _steps(pipeline):
    """``(image steps, transform steps after them, final estimator)`` of ``pipeline``.

    The image steps (those with an ``_apply`` hook: grayscale, crop, resize, ...)
    make the canonical image; the others take the occluded copies.
    """
    steps = [est for _, est in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    steps = [est for est in steps if est is not None and est != "passthrough"]
    final = steps[-1]
    if not hasattr(final, "predict_proba") and not hasattr(final, "class_activation_map"):
        raise TypeError(
            f"the final step of the pipeline, {type(final).__name__}, has no predict_proba: "
            "saliency needs class probabilities (e.g. SVMClassifier or a random forest)"
        )
    start = 0
    while start < len(steps) - 1 and hasattr(steps[start], "_apply"):
        start += 1
    return steps[:start], steps[start:-1], final


def _canonical(image_steps, item, index):
    """The canonical image of ``item``, its original shape and the 3 x 3 map of
    original (x, y) to canonical coordinates."""
    image, mask = load_item(item, index)
    shape, matrix = image.shape, np.eye(3)
    for step in image_steps:
        step_map = step._coordinate_map(image) if hasattr(step, "_coordinate_map") else None
        before = image.shape
        image, mask = step._apply(image, mask)
        if step_map is None:
            if image.shape != before:
                raise ValueError(
                    f"step {type(step).__name__} changes the image's shape and has no "
                    "_coordinate_map: the saliency map cannot be brought back to the image"
                )
            step_map = np.eye(3)
        matrix = step_map @ matrix
    return image, shape, matrix


def _to_original(saliency, shape, matrix):
    """``saliency`` (canonical coordinates) resampled on the original image's pixels;
    0 where the canonical image does not reach (cropped away)."""
    return cv2.warpAffine(
        np.asarray(saliency, np.float32), matrix[:2], (shape[1], shape[0]),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(float)


def _runtime(transforms, n_jobs):
    """The transform steps, feature extractors copied without their cache (the
    occluded copies would fill it) and with ``n_jobs`` where given."""
    steps = []
    for step in transforms:
        if isinstance(step, FeatureExtractor):
            step = copy.copy(step)
            params = step.get_params(deep=False)
            if params.get("cache") is not None:
                step.cache = None
            if n_jobs is not None and "n_jobs" in params:
                step.n_jobs = n_jobs
        steps.append(step)
    return steps


def _probabilities(transforms, final, images):
    X = images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)  # occluded copies may look odd
        for step in transforms:
            X = step.transform(X)
        return final.predict_proba(X)


def _class_index(final, target):
    classes = list(getattr(final, "classes_", []))
    matches = [i for i, label in enumerate(classes) if label == target or str(label) == str(target)]
    if not matches:
        raise ValueError(
            f"target={target!r} is not a class of the model; its classes are "
            f"{[str(label) for label in classes]}"
        )
    return matches[0]


def _pixels(value, side, name):
    if isinstance(value, Integral) and not isinstance(value, bool):
        pixels = int(value)
    elif isinstance(value, Real) and 0 < value <= 1:
        pixels = int(round(value * side))
    else:
        raise ValueError(
            f"{name} must be a fraction of the canonical image's side in (0, 1] or a number of "
            f"pixels, got {value!r}"
        )
    if pixels < 1:
        raise ValueError(f"{name}={value!r} is less than one pixel of the {side}-pixel image")
    return min(pixels, side)


def _starts(side, patch, stride):
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:  # cover the last rows / columns too
        starts.append(side - patch)
    return starts


def _occluded(image, occluder, patch):
    """What replaces a window: a blurred image, or each window's mean (None)."""
    if occluder == "blur":
        sigma = max(patch) / 4
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if occluder == "mean":
        return None
    return np.full(image.shape, occluder, np.float32)


def _occlusion(transforms, final, image, index, *, patch, stride, occluder):
    """Occlusion sensitivity of class ``index`` (None: the predicted class) on the
    canonical ``image``: each pixel gets the mean drop in the class probability over
    the windows that cover it (Captum's ``Occlusion`` convention)."""
    height, width = image.shape
    size = (_pixels(patch, height, "patch"), _pixels(patch, width, "patch"))
    step = (_pixels(stride, height, "stride"), _pixels(stride, width, "stride"))
    fill = _occluded(image, occluder, size)
    windows, copies = [], []
    counts = np.zeros(image.shape)
    for top in _starts(height, size[0], step[0]):
        for left in _starts(width, size[1], step[1]):
            window = (slice(top, top + size[0]), slice(left, left + size[1]))
            counts[window] += 1
            replacement = image[window].mean() if fill is None else fill[window]
            if np.array_equal(image[window], np.broadcast_to(replacement, image[window].shape)):
                continue  # an unchanged copy (blurred background): its drop is 0
            occluded = image.copy()
            occluded[window] = replacement
            windows.append(window)
            copies.append(occluded)
    proba = _probabilities(transforms, final, [image] + copies)  # one batched pass
    if index is None:
        index = int(np.argmax(proba[0]))
    total = np.zeros(image.shape)
    for window, drop in zip(windows, proba[0, index] - proba[1:, index]):
        total[window] += drop
    return total / counts


def _cam(transforms, final, image, target):
    if transforms:
        raise ValueError(
            "method='cam' needs the final estimator to take the canonical image directly; "
            f"this pipeline has {[type(step).__name__ for step in transforms]} before it"
        )
    if target is None:
        proba = _probabilities([], final, [image])
        target = final.classes_[int(np.argmax(proba[0]))]
    cam = np.asarray(final.class_activation_map(image, target), float)
    if cam.shape != image.shape:
        raise ValueError(
            f"{type(final).__name__}.class_activation_map returned shape {cam.shape}, "
            f"not the canonical image's {image.shape}"
        )
    return cam


def _check_options(method, occluder):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not (occluder in _OCCLUDERS or (isinstance(occluder, Real) and not isinstance(occluder, bool))):
        raise ValueError(f"occluder must be one of {_OCCLUDERS} or a number, got {occluder!r}")


def _one_map(steps, item, position, target, method, options):
    image_steps, transforms, final = steps
    image, shape, matrix = _canonical(image_steps, item, position)
    use_cam = method == "cam" or (method == "auto" and hasattr(final, "class_activation_map")
                                  and not transforms)
    if use_cam:
        if not hasattr(final, "class_activation_map"):
            raise ValueError(
                f"method='cam' needs a final estimator with class_activation_map; "
                f"{type(final).__name__} has none: use method='occlusion'"
            )
        canonical_map = _cam(transforms, final, image, target)
    else:
        index = None if target is None else _class_index(final, target)
        canonical_map = _occlusion(transforms, final, image, index, **options)
    return _to_original(canonical_map, shape, matrix)


def saliency_map(pipeline, image, *, target=None, method="auto", patch=0.125, stride=0.0625,
                 occluder="blur", n_jobs=None):
    """Where a fitted pipeline finds the evidence for a class in one image.

    The map is computed on the canonical image (what the pipeline's image
    steps make of ``image``: cropped to the head, resized, equalised) and
    returned in the coordinates of ``image`` itself, with 0 where the crop
    removed the pixels.

    ``method="occlusion"`` (Zeiler and Fergus 2014): a window of
    ``patch`` x ``patch`` slides over the canonical image by ``stride``; in
    each position the window is replaced by a blurred copy of itself (or its
    mean, or a constant: ``occluder``), and every occluded copy goes through
    the rest of the pipeline in one batched, parallel ``transform`` (copies
    identical to the image, such as blurred empty background, are not
    computed). A pixel's value is the mean drop of the target class's
    probability over the windows that cover it (as Captum's ``Occlusion``):
    positive where hiding the pixel's neighbourhood lowers the probability,
    i.e. where the evidence for the class lies. The default 1/8 window and
    1/16 stride make 225 copies (2.3 s of one core for the default
    pipeline; ``benchmarks/saliency.py``).

    ``method="cam"``: the final estimator's own class activation map,
    computed by its method ``class_activation_map(image, target)`` (image:
    the canonical 2-D image it receives; target: a class label; returns a
    2-D float array of the image's shape), such as a CNN classifier with
    global pooling and a linear head offers (Zhou et al. 2016). ``"auto"``
    uses it where the final estimator has that method and takes the
    canonical image directly, occlusion otherwise.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
        Its final estimator has ``predict_proba`` and ``classes_`` (SVM,
        random forest, ``cnn`` features with any classifier, a user's own
        classifier); the image steps before it (those of
        :mod:`braintumor_features.preprocessing`) make the canonical image.
    image : path, array or MaskedImage
        One image, as in ``X``.
    target : class label or None, default=None
        The class whose evidence is mapped; None: the predicted class.
    method : {"auto", "occlusion", "cam"}, default="auto"
    patch : float or int, default=0.125
        Occlusion window's side: a fraction of the canonical image's side,
        or pixels (int).
    stride : float or int, default=0.0625
        Step between windows, as ``patch``.
    occluder : {"blur", "mean"} or float, default="blur"
        What replaces the window: the image blurred by a Gaussian of
        standard deviation ``patch / 4`` (keeps the image plausible: the
        head's outline and the intensities stay, the texture goes), the
        window's mean, or a constant value.
    n_jobs : int or None, default=None
        Workers of the feature extraction over the occluded copies; None:
        the pipeline's own setting.

    Returns
    -------
    ndarray of shape image.shape, float
        Larger values: more evidence for the class (probability units for
        occlusion).

    See Also
    --------
    saliency_maps : the same for several images, skipping those that fail.
    saliency_scores : a map against a tumour outline.

    References
    ----------
    Zeiler and Fergus, "Visualizing and understanding convolutional
    networks", ECCV 2014. Zhou et al., "Learning deep features for
    discriminative localization", CVPR 2016.

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import saliency_map
    >>> demo = make_demo(n_samples=24, random_state=0)
    >>> pipe = make_pipeline("rf", image_size=64, random_state=0).fit(demo.images, demo.target)
    >>> saliency = saliency_map(pipe, demo.images[0], patch=0.25, stride=0.25)
    >>> saliency.shape == demo.images[0].shape
    True
    """
    return saliency_maps(pipeline, [image], target=[target], method=method, patch=patch,
                         stride=stride, occluder=occluder, n_jobs=n_jobs, on_error="raise")[0]


def saliency_maps(pipeline, images, *, target=None, method="auto", patch=0.125, stride=0.0625,
                  occluder="blur", n_jobs=None, on_error="skip"):
    """Saliency maps of several images (see :func:`saliency_map`).

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
    images : sequence of paths, arrays or MaskedImage
    target : class label, sequence of labels (one per image) or None, default=None
        None: each image's predicted class.
    method, patch, stride, occluder, n_jobs
        As in :func:`saliency_map`.
    on_error : {"skip", "raise"}, default="skip"
        ``"skip"``: an image that cannot be explained (unreadable file, a
        class the model does not know) gives None, with one line naming it
        in a :class:`~braintumor_features.exceptions.SkippedImagesWarning`,
        and the others are explained; ``"raise"``: the first such error stops.

    Returns
    -------
    list of ndarray or None
        One map per image, in its own coordinates.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import saliency_maps
    >>> demo = make_demo(n_samples=24, random_state=0)
    >>> pipe = make_pipeline("rf", image_size=64, random_state=0).fit(demo.images, demo.target)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     maps = saliency_maps(pipe, [demo.images[0], "missing.png"], patch=0.25, stride=0.25)
    >>> [m is None for m in maps]
    [False, True]
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    could not explain missing.png: ...
    """
    _check_options(method, occluder)
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    sequence = ImageSequence(images)
    targets = (list(target) if not isinstance(target, str) and np.ndim(target) == 1
               else [target] * len(sequence))
    if len(targets) != len(sequence):
        raise ValueError(f"target has {len(targets)} labels for {len(sequence)} images")
    image_steps, transforms, final = _steps(pipeline)
    steps = (image_steps, _runtime(transforms, n_jobs), final)
    options = {"patch": patch, "stride": stride, "occluder": occluder}
    maps = []
    for index, (item, label) in enumerate(zip(sequence.items, targets)):
        try:
            maps.append(_one_map(steps, item, sequence.positions[index], label, method, options))
        except Exception as error:
            if on_error == "raise":
                raise
            maps.append(None)
            reason = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            warnings.warn(f"could not explain {sequence.name(index)}: {reason}",
                          SkippedImagesWarning, stacklevel=2)
    return maps


def _tolerance_pixels(tolerance, head):
    if isinstance(tolerance, Integral) and not isinstance(tolerance, bool):
        return int(tolerance)
    if not (isinstance(tolerance, Real) and tolerance >= 0):
        raise ValueError(f"tolerance must be a fraction of the head's side (float >= 0) or "
                         f"pixels (int), got {tolerance!r}")
    rows, columns = np.nonzero(head)
    side = max(np.ptp(rows), np.ptp(columns)) + 1 if rows.size else max(head.shape)
    return int(round(tolerance * side))


def _share(positive, where):
    """The share of the positive saliency ``positive`` at ``where`` (NaN for no evidence)."""
    energy = positive.sum()
    return float(positive[where].sum() / energy) if energy > 0 else float("nan")


def saliency_scores(saliency, tumor_mask, head_mask=None, *, tolerance=1 / 32):
    """How much of a saliency map lies on the tumour, and how much outside the head.

    Only the positive part of the map (evidence for the class) counts.

    Parameters
    ----------
    saliency : ndarray of shape (height, width)
        A map such as :func:`saliency_map` returns.
    tumor_mask : ndarray of bool, same shape
        The tumour (e.g. ``Outline.to_mask(image.shape)``).
    head_mask : ndarray of bool, same shape, or None
        The head (e.g. :func:`~braintumor_features.preprocessing.head_mask`
        of the image); None: the whole image (``outside_head`` is then 0).
    tolerance : float or int, default=1/32
        How far from the outline the map's peak still counts as a hit: a
        fraction of the head's longer side (1/32 is 8 pixels of the default
        256-pixel canonical image, which spans the head), or pixels (int).

    Returns
    -------
    dict
        ``energy_inside``: the share of the positive saliency inside the
        outline (energy-based pointing game, Wang et al. 2020);
        ``pointing_hit``: whether the map's maximum lies inside the outline
        dilated by ``tolerance`` (pointing game, Zhang et al. 2018; False for
        a map with no positive value); ``outside_head``: the share of the
        positive saliency outside the head; ``outline_share``: the
        outline's share of the head's pixels (what a map spread evenly over
        the head would put inside); ``times_outline_share``:
        ``energy_inside / outline_share``. Shares are NaN for a map with no
        positive value.

    References
    ----------
    Wang et al., "Score-CAM: Score-weighted visual explanations for
    convolutional neural networks", CVPR workshops 2020. Zhang et al.,
    "Top-down neural attention by excitation backprop", IJCV 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import saliency_scores
    >>> head = np.zeros((8, 8), bool); head[:, :4] = True
    >>> tumor = np.zeros((8, 8), bool); tumor[:2, :2] = True
    >>> saliency = np.zeros((8, 8)); saliency[0, 0] = 3; saliency[7, 7] = 1
    >>> scores = saliency_scores(saliency, tumor, head, tolerance=0)
    >>> scores["energy_inside"], scores["pointing_hit"], scores["outside_head"]
    (0.75, True, 0.25)
    >>> scores["outline_share"], scores["times_outline_share"]
    (0.125, 6.0)
    """
    saliency = np.asarray(saliency, float)
    if saliency.ndim != 2:
        raise ValueError(f"saliency must be a 2-D map, got shape {saliency.shape}")
    tumor = np.asarray(tumor_mask, bool)
    head = np.ones(saliency.shape, bool) if head_mask is None else np.asarray(head_mask, bool)
    for name, mask in (("tumor_mask", tumor), ("head_mask", head)):
        if mask.shape != saliency.shape:
            raise ValueError(f"{name} has shape {mask.shape} but the saliency map {saliency.shape}")
    if not tumor.any():
        raise ValueError("tumor_mask is empty: the outline lies outside the image or has no area")
    positive = np.clip(saliency, 0, None)
    energy = positive.sum()
    radius = _tolerance_pixels(tolerance, head)
    reach = tumor
    if radius > 0:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        reach = cv2.dilate(tumor.astype(np.uint8), disk).astype(bool)
    share = float((tumor & head).sum() / max(head.sum(), 1))
    inside = _share(positive, tumor)
    return {
        "energy_inside": inside,
        "pointing_hit": bool(energy > 0 and reach.flat[int(np.argmax(saliency))]),
        "outside_head": _share(positive, ~head),
        "outline_share": share,
        "times_outline_share": inside / share if share > 0 else float("nan"),
    }


def outline_scores(saliency, image, outline=None, *, tolerance=1 / 32, name="image"):
    """:func:`saliency_scores` of a map on an image, against the image's tumour outline.

    The head is found in the image
    (:func:`~braintumor_features.preprocessing.head_mask`).

    Parameters
    ----------
    saliency : ndarray of shape (height, width)
        From :func:`saliency_map`, in the image's coordinates.
    image : ndarray of shape (height, width)
        The image (as read: ``read_image(path)``).
    outline : Outline or None, default=None
        The tumour outline in the image's pixel coordinates (``load_folder``'s
        ``masks``); None: only ``outside_head`` is scored.
    tolerance : float or int, default=1/32
        As in :func:`saliency_scores`.
    name : str, default="image"
        How the image is named in errors (its file).

    Returns
    -------
    dict
        :func:`saliency_scores`' keys, or only ``outside_head`` without an outline.

    Raises
    ------
    ValueError
        Naming ``name``, when the outline reaches outside the image (drawn
        for another image size, or for another image).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import outline_scores
    >>> from braintumor_features.images import Outline
    >>> image = np.zeros((40, 40), np.uint8); image[5:35, 5:35] = 200
    >>> saliency = np.zeros((40, 40)); saliency[10:14, 10:14] = 1.0
    >>> outline_scores(saliency, image, Outline([(9, 9), (15, 9), (15, 15), (9, 15)]))["pointing_hit"]
    True
    >>> outline_scores(saliency, image)
    {'outside_head': 0.0}
    """
    head = head_mask(image)
    if outline is None:
        return {"outside_head": _share(np.clip(saliency, 0, None), ~head)}
    points = np.asarray(outline.points)
    height, width = image.shape[:2]
    outside = (points[:, 0] < -0.5) | (points[:, 0] > width - 0.5) | (points[:, 1] < -0.5) \
        | (points[:, 1] > height - 0.5)
    if outside.any():
        x, y = points[np.argmax(outside)]
        raise ValueError(
            f"{name}: the tumour outline reaches outside the {width} x {height} image (point "
            f"[{x:g}, {y:g}]); is it drawn for another image size?"
        )
    return saliency_scores(saliency, outline.to_mask(image.shape), head, tolerance=tolerance)
