"""A widget whose message loop survives a failing handler (the error becomes a notification)."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget


class GuardedWidget(Widget):
    """Base for widgets whose handlers run user operations (mouse drags, wheel zoom, resizes).

    Textual ends a widget's message loop after an exception in one of its handlers, so the
    widget would ignore the mouse for the rest of the session. Here the app reports the error
    (``report_error``: a notification) and the loop goes on; under ``--debug`` the app's
    ``report_error`` declines and the error propagates as usual.
    """

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            report = getattr(self.app, "report_error", None)
            if report is None or not report(error):
                raise
