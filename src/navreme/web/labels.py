"""People's words for the codes stored in the database, marked for translation.

Templates call `label("document", d.kind)`; an unknown code shows as itself, so a new status
never breaks a page (and the translation test names what is missing from this table).
"""

from __future__ import annotations

from navreme.web.i18n import N_

LABELS: dict[str, dict[str, str]] = {
    "document": {
        "id_card": N_("ID card"),
        "passport": N_("Passport"),
        "driving_licence": N_("Driving licence"),
    },
    "document_status": {
        "valid": N_("Valid"),
        "expired": N_("Expired"),
        "revoked": N_("Revoked"),
        "lost": N_("Reported lost"),
        "replaced": N_("Replaced"),
    },
    "offer_status": {
        "pending": N_("Waiting for you"),
        "notified": N_("We told you"),
        "accepted": N_("Accepted"),
        "declined": N_("Declined"),
        "completed": N_("Done"),
        "expired": N_("No longer open"),
    },
    "offer_status_staff": {  # the same statuses in officers' words
        "pending": N_("Not yet sent"),
        "notified": N_("Person notified"),
        "accepted": N_("Accepted by the person"),
        "declined": N_("Declined by the person"),
        "completed": N_("Completed"),
        "expired": N_("Expired unanswered"),
    },
    "level": {
        "inform": N_("For your information"),
        "offer": N_("Offer: you confirm"),
        "automatic": N_("Done for you automatically"),
    },
    "appointment_status": {
        "held": N_("Held for you"),
        "booked": N_("Booked"),
        "checked_in": N_("Checked in"),
        "done": N_("Done"),
        "no_show": N_("Missed"),
        "cancelled": N_("Cancelled"),
        "expired": N_("Hold lapsed"),
    },
    "item_action": {"apply": N_("Apply"), "collect": N_("Collect")},
    "channel": {
        "email": N_("E-mail"),
        "sms": N_("SMS"),
        "matrix": N_("Matrix"),
        "telegram": N_("Telegram"),
        "whatsapp": N_("WhatsApp"),
        "viber": N_("Viber"),
        "messenger": N_("Facebook Messenger"),
        "xmpp": N_("XMPP (Jabber)"),
        "push": N_("Web notifications"),
        "letter": N_("Letter by post"),
        "voice": N_("Phone call"),
        "web": N_("This website"),
        "outreach": N_("An officer contacts you"),
    },
    "purpose": {
        "proactive_offers": N_("Offers before you ask"),
        "reminders": N_("Reminders of appointments"),
        "case_updates": N_("News about your requests"),
        "surveys": N_("Short surveys about our service"),
        "service": N_("Service messages"),
        "login": N_("Sign-in codes"),
    },
    "delivery_status": {
        "created": N_("Waiting to be sent"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
        "delivered": N_("Delivered"),
        "read": N_("Read"),
        "failed-temporary": N_("Will try again"),
        "technical-failure": N_("Could not be sent"),
        "permanent-failure": N_("Address does not work"),
        "cancelled": N_("Not needed any more"),
    },
    "need": {
        "large_print": N_("Large print"),
        "easy_read": N_("Easy to read"),
        "screen_reader": N_("Screen reader"),
        "audio": N_("Audio"),
        "sign_language": N_("Sign language"),
    },
    "role": {
        "officer": N_("Officer"),
        "supervisor": N_("Supervisor"),
        "catalogue_editor": N_("Catalogue editor"),
        "data_manager": N_("Data manager"),
        "admin": N_("Administrator"),
    },
    "mode": {
        "standard": N_("Standard"),
        "large": N_("Large print"),
        "easy": N_("Easy to read"),
    },
}


def label(kind: str, code: str | None) -> str:
    """The English label (a msgid) for a stored code; the template translates it."""
    if code is None:
        return ""
    return LABELS.get(kind, {}).get(code, code)
