"""The baseline for ``start_latency.py``: the smallest PTB bot that answers /start.

Default PTB settings (``ApplicationBuilder`` defaults: updates processed one at a time, no
rate limiter, no persistence), pointed at ``TELEGRAM_API_URL`` with ``TELEGRAM_BOT_TOKEN``,
long polling via ``run_polling`` (stops on SIGTERM). It is what python-telegram-bot costs
before any application code, so ``ours / echo`` shows what our bot adds on top.
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

TEXT = "Hello! Send /new to make a video."


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(TEXT)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    root = os.environ["TELEGRAM_API_URL"].rstrip("/")
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.run_polling()


if __name__ == "__main__":
    main()
