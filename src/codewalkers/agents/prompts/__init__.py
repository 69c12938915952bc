"""The agents' prompt templates, one Markdown file per mode (``string.Template`` syntax).

Files starting with ``_`` are shared sections included by the mode templates. Rendered by
:func:`codewalkers.agents.workdir.render_prompt`.
"""
