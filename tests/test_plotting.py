"""Plots render with Agg and show the right content, checked against scikit-learn / scikit-image."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from braintumor_features import GLCMFeatures, make_pipeline  # noqa: E402
from braintumor_features.evaluation import EvaluationReport, feature_importance  # noqa: E402
from braintumor_features.plotting import (  # noqa: E402
    local_texture,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_calibration,
    plot_glcm,
    plot_lbp,
    plot_mistakes,
    plot_precision_recall,
    plot_preprocessing,
    plot_roc,
    plot_texture_map,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    classes = np.array(["glioma", "meningioma", "pituitary"])
    y_true = classes[rng.integers(0, 3, 90)]
    score = rng.random((90, 3)) + 0.8 * (y_true[:, None] == classes)
    score /= score.sum(axis=1, keepdims=True)
    return EvaluationReport(classes, y_true, classes[score.argmax(axis=1)],
                            np.arange(90) % 3, score)


def test_confusion_matrix_cells(report):
    counts = confusion_matrix(report.y_true, report.y_pred, labels=report.classes)
    ax = plot_confusion_matrix(report)
    assert [int(t.get_text()) for t in ax.texts] == counts.ravel().tolist()
    assert ax.get_title() == "Confusion matrix (counts)"
    ax = plot_confusion_matrix(report, normalize="true")
    shown = np.array([float(t.get_text()) for t in ax.texts]).reshape(3, 3)
    np.testing.assert_allclose(shown, counts / counts.sum(axis=1, keepdims=True), atol=0.005)


def _curves(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_roc_curves_one_per_class_with_auc(report):
    ax = plot_roc(report)
    curves = _curves(ax)
    assert len(curves) == 4 and curves[-1].get_label() == "Chance level (AUC = 0.5)"
    for k, name in enumerate(report.classes):
        auc = roc_auc_score(report.y_true == name, report.y_score[:, k])
        assert curves[k].get_label() == f"{name} (AUC = {auc:.2f})"  # RocCurveDisplay's label
    fpr, tpr, _ = roc_curve(report.y_true == "glioma", report.y_score[:, 0],
                            drop_intermediate=True)
    np.testing.assert_allclose(curves[0].get_xydata(), np.column_stack([fpr, tpr]))


def test_curves_leave_out_a_class_without_test_images(report):
    absent = EvaluationReport(np.append(report.classes, "no_tumor"), report.y_true, report.y_pred,
                              report.fold, np.column_stack([report.y_score, np.zeros(90)]))
    labels = [line.get_label() for line in _curves(plot_roc(absent))]
    assert not any(label.startswith("no_tumor") for label in labels) and len(labels) == 4


def test_precision_recall_curves(report):
    ax = plot_precision_recall(report)
    assert len(_curves(ax)) == 3
    ap = average_precision_score(report.y_true == "pituitary", report.y_score[:, 2])
    assert ax.get_legend().get_texts()[2].get_text() == f"pituitary (AP = {ap:.2f})"
    without = EvaluationReport(report.classes, report.y_true, report.y_pred, report.fold)
    with pytest.raises(ValueError, match="no class scores"):
        plot_roc(without)


def test_calibration_is_scikit_learns_reliability_curve_of_the_predicted_class(report):
    ax = plot_calibration(report, n_bins=5)
    confidence = report.y_score.max(axis=1)
    right, mean = calibration_curve(report.y_true == report.y_pred, confidence, n_bins=5)
    curve = ax.get_lines()[1]
    np.testing.assert_allclose(curve.get_xydata(), np.column_stack([mean, right]))
    decisions = EvaluationReport(report.classes, report.y_true, report.y_pred, report.fold,
                                 report.y_score * 4 - 2)
    with pytest.raises(ValueError, match="not probabilities"):
        plot_calibration(decisions)


def _with_files(report, folder, name="{}.png"):
    """The report with an image file (named ``name`` of its number) for each of its images."""
    paths = []
    for i in range(len(report.y_true)):
        paths.append(str(folder / name.format(i)))
        plt.imsave(paths[-1], np.full((8, 8), i, np.uint8), cmap="gray")
    return EvaluationReport(report.classes, report.y_true, report.y_pred, report.fold,
                            report.y_score, paths=paths)


def test_mistakes_gallery_shows_the_most_confident_first(report, tmp_path):
    with_files = _with_files(report, tmp_path)
    figure = plot_mistakes(with_files, n=3)
    wrong = np.flatnonzero(report.y_true != report.y_pred)
    first = wrong[report.y_score[wrong].max(axis=1).argmax()]
    assert len(figure.axes) == 3
    assert figure.axes[0].get_title() == (f"{first}.png\n{report.y_true[first]} -> "
                                          f"{report.y_pred[first]} "
                                          f"({report.y_score[first].max():.2f})")
    with pytest.raises(ValueError, match="needs the image files"):
        plot_mistakes(report)


@pytest.mark.parametrize("classifier, method", [("svm", "permutation"), ("rf", "impurity")])
def test_feature_importance_by_family(demo, classifier, method):
    # Families are named as the pipeline names them, not by their columns' prefixes.
    pipe = make_pipeline(classifier, features=[("texture", GLCMFeatures()), "intensity", "region"],
                         image_size=48, random_state=0)
    if classifier == "rf":
        pipe.set_params(classifier__n_estimators=30)
    pipe.fit(demo.images, demo.target)
    table = feature_importance(pipe, demo.images, demo.target, method=method, n_repeats=2)
    names = pipe[:-1].get_feature_names_out()  # not the acquisition columns the check drops
    assert set(table.family) == {"texture", "intensity", "region"}
    assert sorted(table.index) == sorted(names)
    if method == "impurity":
        assert table.importance.sum() == pytest.approx(1.0)
    ax = plot_feature_importance(table)
    widths = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches)}
    assert widths["texture"] == pytest.approx(table.importance[table.family == "texture"].sum())
    ax = plot_feature_importance(table, by="feature", top=5)
    assert len(ax.patches) == 5


def test_feature_importance_errors(demo):
    pipe = make_pipeline("svm", features=["intensity"], image_size=48, random_state=0)
    pipe.fit(demo.images, demo.target)
    with pytest.raises(ValueError, match="needs a tree ensemble"):
        feature_importance(pipe, demo.images, demo.target, method="impurity")


def test_preprocessing_stages(demo):
    figure = plot_preprocessing(make_pipeline(image_size=40), demo.images[0], mask=demo.masks[0])
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["original", "grayscale", "crop", "resize", "clahe", "normalize"]
    assert figure.axes[3].images[0].get_array().shape == (40, 40)


def test_lbp_codes_match_scikit_image(demo):
    image = demo.images[1]
    ax = plot_lbp(image, radius=2, points=16)
    expected = local_binary_pattern(image, 16, 2, method="uniform")
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)


def test_glcm_heatmap_matches_scikit_image(demo):
    image = demo.images[2]
    ax = plot_glcm(image, distance=2, angle=np.pi / 2, levels=16)
    quantized = (image.astype(np.uint16) * 16 >> 8).astype(np.uint8)
    expected = graycomatrix(quantized, [2], [np.pi / 2], levels=16, symmetric=True,
                            normed=True)[:, :, 0, 0]
    np.testing.assert_allclose(ax.images[0].get_array(), expected)


def test_texture_map_matches_scikit_image(demo):
    image = demo.images[3]
    values = local_texture(image, feature="contrast", window=32, step=16, levels=32)
    assert values.shape == (3, 3)
    window = (image[16:48, 32:64].astype(np.uint16) * 32 >> 8).astype(np.uint8)
    matrix = graycomatrix(window, [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=32,
                          symmetric=True, normed=True)
    assert values[1, 2] == pytest.approx(graycoprops(matrix, "contrast").mean())
    ax = plot_texture_map(image, window=32, step=16)
    np.testing.assert_allclose(ax.images[1].get_array(), values)
    assert "contrast" in ax.get_title()
    with pytest.raises(ValueError, match="feature must be one of"):
        local_texture(image, feature="sharpness")


def test_mistakes_gallery_titles_name_the_files_and_do_not_overlap(report, tmp_path):
    """Issue 29 item 6: the titles ran into each other and named no file."""
    with_files = _with_files(report, tmp_path, "sagittal_T1_patient_{:03d}_slice_0042.png")
    figure = plot_mistakes(with_files, n=12)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    titles = [ax.title for ax in figure.axes]
    assert all(title.get_text().split("\n")[0].endswith("_slice_0042.png") for title in titles)
    boxes = [title.get_window_extent(renderer) for title in titles]
    overlapping = [(a, b) for a in range(len(boxes)) for b in range(a + 1, len(boxes))
                   if boxes[a].overlaps(boxes[b])]
    assert overlapping == []
    inside = figure.bbox
    assert all(inside.x0 <= box.x0 and box.x1 <= inside.x1 for box in boxes)
    plt.close(figure)
