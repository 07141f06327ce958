"""Each user's webhook secret: made when first asked for or needed, shown to its user, and
replaced by a rotation (the old one stops at once, as a leaked key must)."""
from ..database.models import User
from . import signing


def secret_of(user_id):
    """The user's secret, made now if they have none yet; call inside a transaction."""
    user = User.get_by_id(user_id)
    if user.webhook_secret:
        return user.webhook_secret
    secret = signing.new_secret()
    # Two first uses at once: the first to write wins and both go on with its secret.
    User.update(webhook_secret=secret).where(User.id == user_id,
                                             User.webhook_secret.is_null()).execute()
    return User.get_by_id(user_id).webhook_secret


def rotate(user_id):
    """A new secret for the user; deliveries from now on are signed with it."""
    secret = signing.new_secret()
    User.update(webhook_secret=secret).where(User.id == user_id).execute()
    return secret
