"""The quiz, one room per job: ``rules`` (the rank schedule, which picture a round hides, the address),
``pictures`` (what each picture is called, the four choices, checking a typed answer), ``views`` (the
answers, the score and the room poll on screen). The rules are importable from here."""

from ui.quiz.rules import QUIZ_RANK_SCHEDULE, quiz_fields, quiz_photo, quiz_schedule

__all__ = ["QUIZ_RANK_SCHEDULE", "quiz_schedule", "quiz_photo", "quiz_fields"]
