"""Training, evaluation, calibration, the model registry, and the predict-side Router.

Only :mod:`classifier` training modules import transformers' training code; the predict
side never imports them (serving stays light).
"""
