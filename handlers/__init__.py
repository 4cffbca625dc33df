"""Telegram-facing code. ``register`` is the one place where handler order is decided."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from bot import callback_data as cd
from bot.context import BotApplication, admin_ids, avatar_setups
from handlers import (
    admin,
    avatar_screens,
    avatar_setup,
    avatars,
    commands,
    conversation,
    delivery,
    face_swap,
    gate,
    group_admin,
    group_quota,
    job_buttons,
    migration,
    my_avatars,
    quota,
    voice,
)
from handlers.admin_filter import AdminOnly
from handlers.errors import on_error

#: /lipsync (or /new) as the caption of a photo or video: CommandHandler ignores captions.
_CAPTION_COMMAND = filters.CaptionRegex(r"^/(lipsync|new)(@\w+)?(\s|$)") & (
    filters.PHOTO | filters.VIDEO | filters.Document.IMAGE | filters.Document.VIDEO
)
#: Edited messages are not answers to a step; channel posts have no user.
_USER_MESSAGES = filters.UpdateType.MESSAGE


def register(application: BotApplication) -> None:
    """Add every handler, in order. Note: order matters inside a group."""
    # Group -1 runs first for every update: it remembers the sender, and stops updates from
    # banned users and in groups where the bot is off (ApplicationHandlerStop).
    application.add_handler(TypeHandler(Update, gate.gate), group=-1)
    admin_only = AdminOnly(admin_ids(application))
    # A user making an avatar: their private messages (and /cancel) go to that first.
    in_avatar_setup = filters.ChatType.PRIVATE & avatar_setup.InAvatarSetup(
        avatar_setups(application)
    )

    commands_ = [
        # A group's move to a supergroup (service messages, which on_message would take).
        MessageHandler(filters.StatusUpdate.MIGRATE, migration.on_migrate),
        CommandHandler("start", commands.start, filters=_USER_MESSAGES),
        CommandHandler("help", commands.help_command, filters=_USER_MESSAGES),
        CommandHandler(["new", "lipsync"], conversation.new, filters=_USER_MESSAGES),
        CommandHandler("dialogue", conversation.dialogue, filters=_USER_MESSAGES),
        CommandHandler("avatars", avatars.command, filters=_USER_MESSAGES),
        CommandHandler("cancel", avatar_setup.cancel, filters=_USER_MESSAGES & in_avatar_setup),
        CommandHandler("cancel", commands.cancel, filters=_USER_MESSAGES),
        CommandHandler("jobs", commands.jobs, filters=_USER_MESSAGES),
        CommandHandler("quota", quota.quota, filters=_USER_MESSAGES),
        CommandHandler("voice", voice.voice, filters=_USER_MESSAGES),
        CommandHandler("avatar", my_avatars.avatar, filters=_USER_MESSAGES),
        # Bot admins only: anyone else's falls through to unknown_command (the same answer).
        *(
            CommandHandler(name, callback, filters=_USER_MESSAGES & admin_only)
            for name, callback in admin.HANDLERS.items()
        ),
        CommandHandler("bot", group_admin.bot_switch, filters=_USER_MESSAGES),
        CommandHandler("groupquota", group_quota.group_quota, filters=_USER_MESSAGES),
        CommandHandler("groupusage", group_quota.group_usage, filters=_USER_MESSAGES),
        MessageHandler(_CAPTION_COMMAND & _USER_MESSAGES, conversation.new_from_caption),
        # After every CommandHandler: only commands nobody above took get here.
        MessageHandler(filters.COMMAND & _USER_MESSAGES, commands.unknown_command),
        # Every other message from a user goes to the avatar being made, or else to the
        # conversation router.
        MessageHandler(
            _USER_MESSAGES & ~filters.COMMAND & in_avatar_setup, avatar_setup.on_message
        ),
        MessageHandler(_USER_MESSAGES & ~filters.COMMAND, conversation.on_message),
    ]
    buttons = [
        CallbackQueryHandler(conversation.on_step_button, pattern=cd.STEP_PATTERN),
        CallbackQueryHandler(face_swap.on_button, pattern=cd.USE_FACE_PATTERN),
        CallbackQueryHandler(commands.again, pattern=cd.AGAIN_PATTERN),
        CallbackQueryHandler(commands.new_button, pattern=cd.NEW_PATTERN),
        CallbackQueryHandler(commands.resend, pattern=cd.RESEND_PATTERN),
        CallbackQueryHandler(delivery.get_video, pattern=cd.GET_VIDEO_PATTERN),
        CallbackQueryHandler(job_buttons.on_job_button, pattern=cd.JOB_CONTROL_PATTERN),
        CallbackQueryHandler(voice.on_button, pattern=cd.VOICE_PATTERN),
        CallbackQueryHandler(voice.on_menu_button, pattern=cd.VOICE_MENU_PATTERN),
        CallbackQueryHandler(avatars.on_button, pattern=cd.AVATAR_PATTERN),
        CallbackQueryHandler(my_avatars.on_button, pattern=avatar_screens.PATTERN),
        # Last: any other payload still gets an answer.
        CallbackQueryHandler(commands.unknown_button),
    ]
    application.add_handlers([*commands_, *buttons])
    application.add_error_handler(on_error)


__all__ = ["register"]
