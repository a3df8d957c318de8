"""The HTML forms (Flask-WTF: each carries and checks a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from labeling.store.tables import API_SCOPES, RULE_PRIORITIES, USER_ROLES
from web.i18n import ROLE_NAMES

ROLE_CHOICES = [SelectChoice(role, ROLE_NAMES.get(role, role)) for role in USER_ROLES]
HOTKEY_CHOICES = [SelectChoice("", _l("none")), *(SelectChoice(str(n)) for n in range(1, 10))]
# How a rule's priority reads (stored in English).
PRIORITY_NAMES = {"high": _l("high"), "normal": _l("normal"), "low": _l("low")}
ACTIVE_CHOICES = [SelectChoice("1", _l("active")), SelectChoice("0", _l("inactive"))]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=150)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=150)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="labeler")


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1000)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=1000)])


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1000)])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ActiveForm(FlaskForm):
    active = SelectField(_l("Active"), choices=ACTIVE_CHOICES)


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Guideline (what belongs to this team)"), validators=[Length(max=20_000)]
    )
    forward_address = StringField(_l("Forwarding address"), validators=[Length(max=320)])
    imap_folder = StringField(_l("IMAP folder"), validators=[Length(max=255)])
    hotkey = SelectField(_l("Hotkey"), choices=HOTKEY_CHOICES, validators=[Optional()])


class TeamMemberForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Address"), validators=[DataRequired(), Length(max=320)])


class TeamCreateForm(TeamForm):
    slug = StringField(_l("Slug (fixed once created)"), validators=[DataRequired(), Length(max=64)])


class RuleForm(FlaskForm):
    """An admin rule; conditions one value a line (web/rules_views.py parses them)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    note = TextAreaField(_l("Note (why this rule exists)"), validators=[Length(max=5000)])
    action = SelectField(
        _l("Action"),
        choices=[
            SelectChoice("route", _l("route to a team")),
            SelectChoice("review", _l("send to review")),
            SelectChoice("priority", _l("set a priority")),
            SelectChoice("no-auto", _l("never auto-route")),
        ],
    )
    team = SelectField(_l("Team (route)"), choices=[], validate_choice=False)
    priority = SelectField(
        _l("Priority (set a priority)"),
        choices=[
            SelectChoice("", "–"),
            *(SelectChoice(p, PRIORITY_NAMES.get(p, p)) for p in RULE_PRIORITIES),
        ],
        validators=[Optional()],
    )
    enabled = BooleanField(_l("Enabled"), default=True)
    sender = TextAreaField(_l("Sender address or domain"), validators=[Length(max=20_000)])
    recipient = TextAreaField(_l("Recipient mailbox"), validators=[Length(max=20_000)])
    subject = TextAreaField(_l("Phrase in the subject"), validators=[Length(max=20_000)])
    body = TextAreaField(_l("Phrase in the body"), validators=[Length(max=20_000)])
    text = TextAreaField(_l("Phrase in subject or body"), validators=[Length(max=20_000)])
    header = TextAreaField(_l("Header (Name: phrase, or Name: *)"), validators=[Length(max=20_000)])
    attachment = TextAreaField(
        _l("Attachment type (pdf, image/*)"), validators=[Length(max=20_000)]
    )
    language = TextAreaField(_l("Language (nl, en)"), validators=[Length(max=1_000)])
    flag = TextAreaField(_l("Cue flag (urgent, churn)"), validators=[Length(max=1_000)])
    kind = TextAreaField(
        _l("Mail kind (customer, bulk, auto_reply, bounce, loop)"),
        validators=[Length(max=1_000)],
    )


class ApiTokenForm(FlaskForm):
    name = StringField(
        _l("Integration (e.g. zammad)"), validators=[DataRequired(), Length(max=100)]
    )
    scopes = SelectMultipleField(
        _l("Scopes"),
        choices=[SelectChoice(scope) for scope in API_SCOPES],
        default=list(API_SCOPES),
        validators=[DataRequired()],
    )
    callback_url = StringField(
        _l("Callback URL (optional: each ticket's decision is POSTed there)"),
        validators=[Optional(), Length(max=2000)],
    )


class RuleMoveForm(FlaskForm):
    direction = SelectField(choices=[SelectChoice("up"), SelectChoice("down")])


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token: archive, unarchive, logout."""


class AdjudicateForm(FlaskForm):
    message_id = IntegerField(validators=[DataRequired()])
    team_id = IntegerField(validators=[DataRequired()])


class ReviewDecisionForm(FlaskForm):
    message_id = IntegerField(validators=[DataRequired()])
    team_id = IntegerField(validators=[DataRequired()])


class SendBackForm(FlaskForm):
    message_id = IntegerField(validators=[DataRequired()])
    note = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=500)])


class HandledForm(FlaskForm):
    message_id = IntegerField(validators=[DataRequired()])


class TargetForm(FlaskForm):
    target = DecimalField(
        _l("Target precision"),
        places=3,
        validators=[DataRequired(), NumberRange(min=0.5, max=0.999)],
    )
