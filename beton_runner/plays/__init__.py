"""Sales plays: facts from the warehouse, a playbook chosen by signals, and two engines
(deterministic Jinja2 templates, and an OpenAI-compatible LLM) behind one interface. See
docs/plays.md."""

from .engine import ENGINES, generate_plays, write_play_files, write_plays
from .errors import LLMError, PlaysError
from .facts import gather_facts
from .playbook import PLAYBOOK, recommend
from .render import DeterministicEngine, PlayDocument

__all__ = [
    "DeterministicEngine",
    "ENGINES",
    "LLMError",
    "PLAYBOOK",
    "PlayDocument",
    "PlaysError",
    "gather_facts",
    "generate_plays",
    "recommend",
    "write_play_files",
    "write_plays",
]
