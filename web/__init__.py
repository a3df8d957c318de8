"""The Flask app factory and its blueprints (login, labelling, review, dashboard, admin)."""
