"""The HTML forms (Flask-WTF: each carries and checks a CSRF token)."""

from __future__ import annotations

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

ROLE_CHOICES = [SelectChoice(role) for role in USER_ROLES]
HOTKEY_CHOICES = [SelectChoice("", "none"), *(SelectChoice(str(n)) for n in range(1, 10))]
ACTIVE_CHOICES = [SelectChoice("1", "active"), SelectChoice("0", "inactive")]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="labeler")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField("New password again", validators=[DataRequired(), Length(max=1000)])


class PasswordResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1000)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ActiveForm(FlaskForm):
    active = SelectField("Active", choices=ACTIVE_CHOICES)


class TeamForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        "Guideline (what belongs to this team)", validators=[Length(max=20_000)]
    )
    forward_address = StringField("Forwarding address", validators=[Length(max=320)])
    imap_folder = StringField("IMAP folder", validators=[Length(max=255)])
    hotkey = SelectField("Hotkey", choices=HOTKEY_CHOICES, validators=[Optional()])


class TeamMemberForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = StringField("Address", validators=[DataRequired(), Length(max=320)])


class TeamCreateForm(TeamForm):
    slug = StringField("Slug (fixed once created)", validators=[DataRequired(), Length(max=64)])


class RuleForm(FlaskForm):
    """An admin rule; conditions one value a line (web/rules_views.py parses them)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    note = TextAreaField("Note (why this rule exists)", validators=[Length(max=5000)])
    action = SelectField(
        "Action",
        choices=[
            SelectChoice("route", "route to a team"),
            SelectChoice("review", "send to review"),
            SelectChoice("priority", "set a priority"),
            SelectChoice("no-auto", "never auto-route"),
        ],
    )
    team = SelectField("Team (route)", choices=[], validate_choice=False)
    priority = SelectField(
        "Priority (set a priority)",
        choices=[SelectChoice("", "–"), *(SelectChoice(p) for p in RULE_PRIORITIES)],
        validators=[Optional()],
    )
    enabled = BooleanField("Enabled", default=True)
    sender = TextAreaField("Sender address or domain", validators=[Length(max=20_000)])
    recipient = TextAreaField("Recipient mailbox", validators=[Length(max=20_000)])
    subject = TextAreaField("Phrase in the subject", validators=[Length(max=20_000)])
    body = TextAreaField("Phrase in the body", validators=[Length(max=20_000)])
    text = TextAreaField("Phrase in subject or body", validators=[Length(max=20_000)])
    header = TextAreaField("Header (Name: phrase, or Name: *)", validators=[Length(max=20_000)])
    attachment = TextAreaField(
        "Attachment type (pdf, image/*)", validators=[Length(max=20_000)]
    )
    language = TextAreaField("Language (nl, en)", validators=[Length(max=1_000)])
    flag = TextAreaField("Cue flag (urgent, churn)", validators=[Length(max=1_000)])
    kind = TextAreaField(
        "Mail kind (customer, bulk, auto_reply, bounce, loop)", validators=[Length(max=1_000)]
    )


class ApiTokenForm(FlaskForm):
    name = StringField("Integration (e.g. zammad)", validators=[DataRequired(), Length(max=100)])
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(scope) for scope in API_SCOPES],
        default=list(API_SCOPES),
        validators=[DataRequired()],
    )
    callback_url = StringField(
        "Callback URL (optional: each ticket's decision is POSTed there)",
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
    note = StringField("Why (optional)", validators=[Optional(), Length(max=500)])


class HandledForm(FlaskForm):
    message_id = IntegerField(validators=[DataRequired()])


class LanguageForm(FlaskForm):
    language = SelectField(
        "Language",
        choices=[
            SelectChoice("", "browser"),
            SelectChoice("nl", "Nederlands"),
            SelectChoice("en", "English"),
        ],
        validators=[Optional()],
    )


class TargetForm(FlaskForm):
    target = DecimalField(
        "Target precision",
        places=3,
        validators=[DataRequired(), NumberRange(min=0.5, max=0.999)],
    )
