"""What `{{name}}` says: pure Python, no host calls, so `python3 -m unittest` tests it.

The studio hands others' lines to a language model in `user` messages, one line per `\n`:
`<speaker name="NAME">TEXT</speaker>` for something someone said (NAME and TEXT escaped: `&amp;`,
`&lt;`, `&gt;`, `&quot;`) and `<studio>NOTE</studio>` for a note from the studio.
"""

import html
import re

_SPEAKER = re.compile(r'^<speaker name="([^"]*)"[^>]*>(.*)</speaker>$')


def last_said(messages):
    """The newest (name, text) someone said, from (role, content) pairs; None if nobody spoke."""
    for role, content in reversed(messages):
        if role != "user":
            continue
        for line in reversed(content.split("\n")):
            found = _SPEAKER.match(line.strip())
            if found:
                return html.unescape(found.group(1)), html.unescape(found.group(2))
    return None


def reply(messages):
    """The plugin's answer to the conversation."""
    said = last_said(messages)
    if said is None:
        # Nobody spoke yet: autopilot's first line gets only a studio note.
        return "Hello! Say something and I will repeat it."
    name, text = said
    if not text.strip():
        return "I did not catch that."
    return f"{name} said: {text}"
