"""The admin's target precision: what each target costs, and choosing one (``/thresholds``).

The active version keeps the out-of-sample scores its thresholds were certified on; this
page draws the share of mail the version routes by itself for every target precision, and
a new target takes effect at once, without training (workers pick the policy up with the
next mail). Each change is an audit row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from labeling.annotation.verify import verified_count, weak_label_noise
from labeling.errors import ModelError
from labeling.live.stats import unknown_share
from labeling.settings import Settings
from labeling.store import audit
from web import charts, display
from web.db import commit, db_session
from web.forms import TargetForm

if TYPE_CHECKING:
    from classifier.certify import CalibrationSet, UnknownShareUsed

bp = Blueprint("thresholds", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


def _unknown_share_used(calibration: CalibrationSet, delta: float) -> UnknownShareUsed:
    """The share of mail for no team to certify for: the setting, or what people closed
    as belonging to no team where that is significantly more (``unknown_share_to_certify``)."""
    live = unknown_share(db_session())
    return calibration.unknown_share_used(
        _settings().max_unknown_share, live.no_team, live.settled, delta
    )


def _page(form: TargetForm) -> str:
    from classifier.certify import labels_needed, precision_curve
    from classifier.registry import Registry

    registry = Registry(_settings().models_path)
    session = db_session()
    context: dict[str, object] = {
        "form": form,
        "verified": verified_count(session),
        "noise": weak_label_noise(session),
        "unknown": unknown_share(session),
        "info": None,
    }
    try:
        info = registry.active()
    except ModelError as exc:
        flash(str(exc), "error")
        info = None
    calibration = registry.calibration(info.version) if info is not None else None
    if info is None or calibration is None:
        return render_template("thresholds.html", **context)
    manifest = info.manifest
    certificate = manifest.get("certificate") or {}
    delta = float(certificate.get("delta", 0.1))
    used = _unknown_share_used(calibration, delta)
    share = used.share
    curve = precision_curve(
        calibration.confidence,
        calibration.correct,
        calibration.unknown,
        delta=delta,
        max_unknown_share=share,
    )
    target = float(manifest.get("policy", {}).get("target_precision", 0.98))
    chart = charts.line_chart(
        chart_id="coverage-by-target",
        title=_("Mail routed without a person, by target precision"),
        description=_(
            "For each target precision, the share of the calibration mail the "
            "active version would route by itself with that precision certified."
        ),
        labels=[f"{c.target:g}" for c in curve],
        series=[
            charts.Series(_("routed by itself"), [c.coverage for c in curve], charts.PALETTE[0])
        ],
        x_title=_("target precision"),
        y_title=_("share routed"),
        y_max=1.0,
        value_format=charts.percent_format,
    )
    context.update(
        info=info,
        calibration=calibration,
        certificate=certificate,
        unknown_used=used,
        unknown_examples=calibration.unknown_examples_for(target, delta, share)
        if share > 0
        else None,
        unknown_have=int(calibration.unknown.sum()),
        curve=curve,
        chart=chart,
        target=target,
        needed=labels_needed(calibration.confidence, calibration.correct, target, delta),
        replies=len(calibration.follow_score),
        follow_floor=manifest.get("policy", {}).get("follow_floor", 0.0),
    )
    if not form.is_submitted():
        form.target.data = Decimal(str(target))
    return render_template("thresholds.html", **context)


@bp.get("/thresholds")
def index() -> str:
    return _page(TargetForm())


@bp.post("/thresholds")
def set_target() -> ResponseReturnValue:
    from classifier.registry import Registry

    form = TargetForm()
    if not form.validate_on_submit() or form.target.data is None:
        flash(_("Choose a target precision between 0.5 and 0.999."), "error")
        return _page(form), 400
    target = float(form.target.data)
    registry = Registry(_settings().models_path)
    info = registry.active()
    if info is None:
        flash(_("No model is active yet: train one first."), "error")
        return redirect(url_for("thresholds.index"))
    old = info.manifest.get("policy", {}).get("target_precision")
    calibration = registry.calibration(info.version)
    share = (
        _unknown_share_used(
            calibration, float(info.manifest.get("certificate", {}).get("delta", 0.1))
        ).share
        if calibration is not None
        else None
    )
    try:
        certificate = registry.set_target(info.version, target, max_unknown_share=share)
    except ModelError as exc:
        flash(str(exc), "error")
        return redirect(url_for("thresholds.index"))
    audit.record(
        db_session(),
        f"user:{current_user.id}",
        "set-target",
        version=info.version,
        old=old,
        new=target,
        coverage=certificate.coverage,
        certified=certificate.certified,
    )
    commit()
    if certificate.certified:
        flash(
            _(
                "Target %(target)s in force: %(version)s now routes %(share)s of its "
                "calibration mail by itself.",
                target=display.decimal(target, 3),
                version=info.version,
                share=display.percent(certificate.coverage),
            ),
            "info",
        )
    else:
        flash(
            _(
                "Target %(target)s cannot be certified: all mail now goes to review.",
                target=display.decimal(target, 3),
            ),
            "error",
        )
    return redirect(url_for("thresholds.index"))
