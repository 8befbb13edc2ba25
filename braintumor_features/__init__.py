"""braintumor-features: classical machine learning for brain-tumour MRI slices.

Preprocessing steps and feature families are scikit-learn transformers;
:func:`make_pipeline` assembles them with an SVM or a random forest.
"""

from importlib import import_module

from ._version import __version__

#: Where each public name is defined: imported on first use (PEP 562), so that
#: ``python -m braintumor_features --version`` does not load scikit-learn.
_MODULES = {
    **dict.fromkeys(["AcquisitionFeatures", "CNNFeatures", "GLCMFeatures", "HOGFeatures", "ImageFeatures",
                     "IntensityFeatures", "LBPFeatures", "RegionFeatures", "TumorMapFeatures"],
                    ".features"),
    **dict.fromkeys(["ImageSequence", "MaskedImage", "Outline", "with_masks"], ".images"),
    **dict.fromkeys(["ImageReadError", "read_image", "read_images"], ".io"),
    **dict.fromkeys(["load_model", "save_model"], ".persistence"),
    "make_pipeline": ".pipeline",
    **dict.fromkeys(["CLAHE", "CropHead", "Denoise", "Grayscale", "HistogramStandardizer",
                     "NormalizeIntensity", "Resize"], ".preprocessing"),
}


def __getattr__(name):
    if name in _MODULES:
        value = getattr(import_module(_MODULES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MODULES))


__all__ = [
    "AcquisitionFeatures",
    "CNNFeatures",
    "CLAHE",
    "CropHead",
    "Denoise",
    "GLCMFeatures",
    "HOGFeatures",
    "Grayscale",
    "HistogramStandardizer",
    "ImageFeatures",
    "ImageReadError",
    "ImageSequence",
    "IntensityFeatures",
    "LBPFeatures",
    "MaskedImage",
    "NormalizeIntensity",
    "Outline",
    "RegionFeatures",
    "Resize",
    "TumorMapFeatures",
    "load_model",
    "make_pipeline",
    "read_image",
    "read_images",
    "save_model",
    "with_masks",
    "__version__",
]
