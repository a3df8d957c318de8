"""The HTML forms (Flask-WTF: each carries and checks a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from labeling.store.tables import USER_ROLES

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


class TeamCreateForm(TeamForm):
    slug = StringField("Slug (fixed once created)", validators=[DataRequired(), Length(max=64)])


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
