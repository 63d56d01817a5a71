"""English messages: key -> template (``str.format`` placeholders). ``zh.py`` has the same keys."""

MESSAGES = {
    # the step controls (static/player.js); keys under "control." travel to the browser as one dict
    "control.previous": "previous step",
    "control.next": "next step",
    "control.play": "play",
    "control.pause": "pause",
    "control.speed": "speed",
    "control.loading": "loading…",
    "control.of": "{step} of {last}",
    "control.steps_per_s": "{n} steps/s",
}
