"""Markdown <-> Tiptap JSON, for page and phase content.

People write and read Markdown; the database stores Tiptap (ProseMirror) documents, as the
web editor does. Parsing uses markdown-it-py with mdit-py-plugins' GFM pieces; rendering walks
the document.

The dialect is CommonMark plus GitHub's tables, task lists, strikethrough, autolinks
(``<https://…>`` and bare ``www.``/``https://``/e-mail addresses), alerts (``> [!NOTE]``),
footnotes and YAML front matter. What survives a round trip, and how it is stored:

- blocks: ``paragraph``, ``heading`` (level), ``bulletList`` / ``orderedList`` (start) with
  ``listItem``, ``taskList`` with ``taskItem`` (checked), ``blockquote`` (alert),
  ``codeBlock`` (language: the whole info string), ``horizontalRule``, ``table`` /
  ``tableRow`` / ``tableHeader`` / ``tableCell`` (align) holding one ``paragraph`` each,
  ``footnoteDefinition`` (label);
- inline: ``text`` with the marks ``bold``, ``italic``, ``strike``, ``code`` and ``link``
  (href, title), listed outermost first as in the source, ``hardBreak``, ``image`` (src, alt,
  title), ``footnoteReference`` (label); soft line breaks stay ``"\\n"`` inside text, so a
  page keeps its line wrapping;
- lists carry ``tight`` (no blank lines between items), as tiptap-markdown does; a task item
  in a list that also has plain items is a ``listItem`` with ``checked``;
- what Tiptap has no node for is kept verbatim: ``rawMarkdown`` blocks (kind ``html`` or
  ``frontMatter``, the source lines) and ``rawInline`` nodes (inline HTML).

"Lossless" is checked as: :func:`render_html` of the original and of the round-tripped
Markdown are equal, and a second round trip gives the same document and the same bytes
(tests/content). The Markdown written is normalised: ``-`` bullets, ``*`` / ``**`` / ``~~``,
fenced code, ATX headings (setext where a heading spans lines), padded tables, inline links,
escapes only where needed. docs/pages.md says the same for people, with what is flattened.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.front_matter.index import _front_matter_rule
from mdit_py_plugins.gfm import gfm_plugin
from mdit_py_plugins.gfm_autolink import gfm_autolink_plugin
from mdit_py_plugins.gfm_autolink._match import check_prev, match_http

Node = dict[str, Any]
Mark = dict[str, Any]

__all__ = ["markdown_to_tiptap", "render_html", "tiptap_problem", "tiptap_to_markdown"]


def _gfm(md: MarkdownIt) -> MarkdownIt:
    md.enable(["table", "strikethrough"])
    md.options.update(tasklists=True, alerts=True, strikethrough_single_tilde=True)
    md.use(gfm_autolink_plugin)
    return md.use(front_matter_plugin)


def _front_matter_only_at_start(md: MarkdownIt) -> MarkdownIt:
    """mdit-py-plugins 0.7 also takes ``---`` opening a first list item for front matter."""
    rule = _front_matter_rule

    def at_start(state: StateBlock, start: int, end: int, silent: bool) -> bool:
        if state.bMarks[start] + state.tShift[start] != 0:
            return False
        return rule(state, start, end, silent)

    md.block.ruler.at("front_matter", at_start)
    return md


# Footnote definitions stay where they were written (move_to_end=False), so a page keeps its
# order; the renderer moves them to the end as GitHub does.
_parser = _front_matter_only_at_start(
    _gfm(MarkdownIt("commonmark")).use(footnote_plugin, inline=False, move_to_end=False)
)
_renderer = _front_matter_only_at_start(MarkdownIt("commonmark").use(gfm_plugin, front_matter=True))


def render_html(markdown: str) -> str:
    """HTML for ``markdown`` in the dialect this module reads (what "lossless" compares)."""
    return str(_renderer.render(markdown))


# --- Markdown -> Tiptap --------------------------------------------------------------------


def markdown_to_tiptap(markdown: str) -> Node:
    """A Tiptap document for ``markdown``."""
    lines = markdown.splitlines()
    tree = SyntaxTreeNode(_parser.parse(markdown))
    return {"type": "doc", "content": _blocks(tree.children, lines)}


def _blocks(nodes: list[SyntaxTreeNode], lines: list[str]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        converted = _block_node(node, lines)
        if converted is not None:
            out.append(converted)
    return out


def _block_node(node: SyntaxTreeNode, lines: list[str]) -> Node | None:
    kind = node.type
    if kind == "paragraph":
        return _with_content({"type": "paragraph"}, _inline_of(node))
    if kind == "heading":
        heading = {"type": "heading", "attrs": {"level": int(node.tag[1])}}
        return _with_content(heading, _inline_of(node))
    if kind in ("fence", "code_block"):
        text = node.content[:-1] if node.content.endswith("\n") else node.content
        code: Node = {"type": "codeBlock", "attrs": {"language": node.info.strip() or None}}
        return _with_content(code, [{"type": "text", "text": text}] if text else [])
    if kind == "hr":
        return {"type": "horizontalRule"}
    if kind == "blockquote":
        return {"type": "blockquote", "content": _blocks(node.children, lines)}
    if kind == "alert":
        children = [child for child in node.children if child.type != "alert_title"]
        return {
            "type": "blockquote",
            "attrs": {"alert": node.info},
            "content": _blocks(children, lines),
        }
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, lines)
    if kind == "table":
        return _table(node)
    if kind == "html_block":
        source = node.content[:-1] if node.content.endswith("\n") else node.content
        return {"type": "rawMarkdown", "attrs": {"kind": "html", "source": source}}
    if kind == "front_matter" and node.map is not None:
        source = "\n".join(lines[node.map[0] : node.map[1]])
        return {"type": "rawMarkdown", "attrs": {"kind": "frontMatter", "source": source}}
    if kind == "footnote_reference":
        return {
            "type": "footnoteDefinition",
            "attrs": {"label": node.meta["label"]},
            "content": _blocks(node.children, lines),
        }
    if node.map is not None:  # a block this module does not know: its source, as written
        source = "\n".join(lines[node.map[0] : node.map[1]])
        return {"type": "rawMarkdown", "attrs": {"kind": kind, "source": source}}
    return None


def _with_content(node: Node, content: list[Node]) -> Node:
    if content:
        node["content"] = content
    return node


def _list(node: SyntaxTreeNode, lines: list[str]) -> Node:
    items = node.children
    tight = all(
        child.hidden for item in items for child in item.children if child.type == "paragraph"
    )
    checks = [item.meta.get("checked") for item in items]
    is_task_list = node.type == "bullet_list" and all(c is not None for c in checks)
    if is_task_list:
        kind, item_kind = "taskList", "taskItem"
    elif node.type == "bullet_list":
        kind, item_kind = "bulletList", "listItem"
    else:
        kind, item_kind = "orderedList", "listItem"
    attrs: dict[str, Any] = {"tight": tight}
    if kind == "orderedList":
        start = node.attrs.get("start")
        attrs = {"start": int(start) if start is not None else 1, "tight": tight}
    content = []
    for item, checked in zip(items, checks, strict=True):
        converted: Node = {"type": item_kind}
        if checked is not None:
            converted["attrs"] = {"checked": bool(checked)}
        converted["content"] = _blocks(item.children, lines) or [{"type": "paragraph"}]
        content.append(converted)
    return {"type": kind, "attrs": attrs, "content": content}


def _table(node: SyntaxTreeNode) -> Node:
    rows: list[Node] = []
    for section in node.children:  # thead, tbody
        for row in section.children:
            cells = []
            for cell in row.children:
                style = str(cell.attrs.get("style", ""))
                align = style.removeprefix("text-align:") or None
                cells.append(
                    {
                        "type": "tableHeader" if cell.type == "th" else "tableCell",
                        "attrs": {"align": align},
                        "content": [_with_content({"type": "paragraph"}, _inline_of(cell))],
                    }
                )
            rows.append({"type": "tableRow", "content": cells})
    return {"type": "table", "content": rows}


_MARKS = {"strong": "bold", "em": "italic", "s": "strike"}


def _inline_of(node: SyntaxTreeNode) -> list[Node]:
    out: list[Node] = []
    for child in node.children:  # the one "inline" node
        _walk_inline(child.children, [], out)
    return out


def _walk_inline(nodes: list[SyntaxTreeNode], marks: list[Mark], out: list[Node]) -> None:
    for node in nodes:
        kind = node.type
        if kind in _MARKS:
            # Tiptap cannot nest a mark in itself (*a *b* c*): the inner one is dropped.
            inner = {"type": _MARKS[kind]}
            _walk_inline(node.children, marks if inner in marks else [*marks, inner], out)
        elif kind == "link":
            attrs = {"href": str(node.attrs.get("href", ""))}
            if node.attrs.get("title"):
                attrs["title"] = str(node.attrs["title"])
            if not node.children:  # a mark needs text to sit on: keep "[](href)" as source
                source = "[](" + _destination(attrs["href"], attrs.get("title")) + ")"
                out.append(
                    _marked(
                        {"type": "rawInline", "attrs": {"kind": "link", "source": source}}, marks
                    )
                )
                continue
            # A link inside a link ([<https://…>](…)) is text of the outer one: Tiptap
            # has one link mark at a time.
            inside_link = any(mark["type"] == "link" for mark in marks)
            link = {"type": "link", "attrs": attrs}
            _walk_inline(node.children, marks if inside_link else [*marks, link], out)
        elif kind == "text":
            _append_text(out, node.content, marks)
        elif kind == "code_inline":
            _append_text(out, node.content, [*marks, {"type": "code"}])
        elif kind == "softbreak":
            _append_text(out, "\n", marks)
        elif kind == "hardbreak":
            out.append(_marked({"type": "hardBreak"}, marks))
        elif kind == "image":
            image_attrs = {
                "src": node.attrs.get("src", ""),
                "alt": _plain_text(node.children),
                "title": node.attrs.get("title") or None,
            }
            out.append(_marked({"type": "image", "attrs": image_attrs}, marks))
        elif kind == "html_inline":
            raw = {"type": "rawInline", "attrs": {"kind": "html", "source": node.content}}
            out.append(_marked(raw, marks))
        elif kind == "footnote_ref":
            ref = {"type": "footnoteReference", "attrs": {"label": node.meta["label"]}}
            out.append(_marked(ref, marks))


def _plain_text(nodes: list[SyntaxTreeNode]) -> str:
    """An image's alt text, as markdown-it renders it (markup dropped)."""
    parts = []
    for node in nodes:
        if node.type in ("text", "code_inline", "html_inline"):
            parts.append(node.content)
        elif node.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif node.type == "image":
            parts.append(_plain_text(node.children))
        else:
            parts.append(_plain_text(node.children))
    return "".join(parts)


def _marked(node: Node, marks: list[Mark]) -> Node:
    if marks:
        node["marks"] = [dict(mark) for mark in marks]
    return node


def _append_text(nodes: list[Node], text: str, marks: list[Mark]) -> None:
    if not text:
        return
    text = text.replace("\x00", "\ufffd")  # as markdown-it reads NUL (link text decodes %00)
    last = nodes[-1] if nodes else None
    if last is not None and last.get("type") == "text" and last.get("marks", []) == marks:
        last["text"] += text
        return
    nodes.append(_marked({"type": "text", "text": text}, marks))


# --- Tiptap -> Markdown --------------------------------------------------------------------

#: The node and mark types this module writes as Markdown (what a document may hold).
BLOCK_TYPES = frozenset(
    {
        "doc", "paragraph", "heading", "codeBlock", "horizontalRule", "blockquote",
        "bulletList", "orderedList", "taskList", "listItem", "taskItem", "table", "tableRow",
        "tableHeader", "tableCell", "rawMarkdown", "footnoteDefinition",
    }
)  # fmt: skip
MARK_TYPES = frozenset({"bold", "italic", "strike", "code", "link"})
_MAX_DEPTH = 64


def tiptap_problem(doc: Any) -> str | None:
    """What makes ``doc`` something other than a Tiptap document this module can write as
    Markdown (one line), or ``None`` when it is one: a ``doc`` node whose nodes and marks
    are all of known types, nested at most 64 deep.
    """
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        return 'not a Tiptap document (expected {"type": "doc", "content": [...]})'
    stack: list[tuple[Any, int, str]] = [(doc, 0, "doc")]
    while stack:
        node, depth, where = stack.pop()
        if not isinstance(node, dict):
            return f"{where}: a node must be an object"
        kind = node.get("type")
        if kind not in BLOCK_TYPES and kind not in _INLINE_TYPES:
            return f"{where}: unknown node type {kind!r}"
        if depth > _MAX_DEPTH:
            return f"{where}: nested deeper than {_MAX_DEPTH} levels"
        if kind == "text" and not isinstance(node.get("text"), str):
            return f"{where}: a text node needs its text"
        for key in ("attrs",):
            if key in node and node[key] is not None and not isinstance(node[key], dict):
                return f"{where}: {key} must be an object"
        marks = node.get("marks") or []
        if not isinstance(marks, list):
            return f"{where}: marks must be a list"
        for mark in marks:
            if not isinstance(mark, dict) or mark.get("type") not in MARK_TYPES:
                shown = mark.get("type") if isinstance(mark, dict) else mark
                return f"{where}: unknown mark {shown!r}"
        content = node.get("content") or []
        if not isinstance(content, list):
            return f"{where}: content must be a list"
        for index, child in enumerate(content):
            child_kind = child.get("type") if isinstance(child, dict) else "?"
            stack.append((child, depth + 1, f"{where} > {child_kind}[{index}]"))
    return None


def tiptap_to_markdown(doc: Node | None) -> str:
    """Markdown for a Tiptap document (empty for ``None`` or an empty document)."""
    if not doc:
        return ""
    content = doc.get("content") or []
    text = _Writer().blocks(content, tight=False)
    if content and content[0].get("type") == "horizontalRule":
        text = "***" + text[3:]  # a leading "---" would open front matter
    return text.strip("\n") + "\n" if text.strip() else ""


_INLINE_TYPES = {"text", "hardBreak", "image", "rawInline", "footnoteReference"}


class _Writer:
    """Writes blocks, choosing list markers so that adjacent lists stay apart."""

    def blocks(self, nodes: list[Node], tight: bool) -> str:
        parts: list[str] = []
        previous: tuple[str | None, str] = (None, "")
        for node in nodes:
            kind = node.get("type")
            marker = ""
            if kind in ("bulletList", "taskList"):
                # Two bullet lists in a row with the same marker would read back as one.
                same = previous[0] in ("bulletList", "taskList") and previous[1] == "-"
                marker = "*" if same else "-"
                kind = "bulletList"
            elif kind == "orderedList":
                same = previous[0] == "orderedList" and previous[1] == "."
                marker = ")" if same else "."
            text = self.block(node, marker)
            if not text:
                continue  # an empty paragraph, or a node with nothing to write
            if parts:
                # Only a blank line ends an HTML block.
                loose = not tight or previous[0] == "rawMarkdown"
                parts.append("\n\n" if loose else "\n")
            parts.append(text)
            previous = (kind, marker)
        return "".join(parts)

    def block(self, node: Node, marker: str = "") -> str:
        kind = node.get("type")
        children: list[Node] = node.get("content") or []
        attrs: dict[str, Any] = node.get("attrs") or {}
        if kind == "heading":
            return _heading(int(attrs.get("level", 1)), children)
        if kind == "codeBlock":
            text = "".join(child.get("text", "") for child in children)
            return _fence(text, attrs.get("language") or "")
        if kind == "horizontalRule":
            return "---"
        if kind == "blockquote":
            inner = self.blocks(children, tight=False)
            if attrs.get("alert"):
                inner = f"[!{attrs['alert']}]" + ("\n" + inner if inner else "")
            return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
        if kind in ("bulletList", "taskList", "orderedList"):
            return self.list(node, marker or ("." if kind == "orderedList" else "-"))
        if kind == "table":
            return _table_markdown(children)
        if kind == "rawMarkdown":
            return str(attrs.get("source", ""))
        if kind == "footnoteDefinition":
            inner = self.blocks(children, tight=False)
            return _indent(f"[^{attrs.get('label', '')}]: ", inner, "    ").rstrip(" ")
        if kind != "paragraph" and any(c.get("type") not in _INLINE_TYPES for c in children):
            return self.blocks(children, tight=False)  # a block node from another editor
        return _inlines(children)

    def list(self, node: Node, marker: str) -> str:
        attrs: dict[str, Any] = node.get("attrs") or {}
        items: list[Node] = node.get("content") or []
        # Tightness shows only in paragraphs; without any, blank lines are harmless and keep
        # blocks (HTML, quotes) apart.
        tight = (
            bool(attrs.get("tight", True))
            and any(
                child.get("type") == "paragraph" for i in items for child in i.get("content") or []
            )
            and not any(_needs_loose(i) for i in items)
        )
        ordered = node.get("type") == "orderedList"
        start = int(attrs.get("start", 1)) if ordered else 0
        out = []
        for number, item in enumerate(items, start):
            bullet = f"{number}{marker} " if ordered else f"{marker} "
            pad = " " * len(bullet)
            checked = (item.get("attrs") or {}).get("checked")
            if item.get("type") == "taskItem" or checked is not None:
                bullet += "[x] " if checked else "[ ] "
            content: list[Node] = item.get("content") or []
            body = self.blocks(content, tight=tight)
            if content and content[0].get("type") == "horizontalRule" and marker == "-":
                body = "***" + body[3:]  # "- ---" would be one thematic break
            if body:
                out.append(_indent(bullet, body, pad))
            else:  # an empty item; "- [ ] " keeps its space to stay a task
                out.append(bullet if bullet.endswith("] ") else bullet.rstrip(" "))
        return ("\n" if tight else "\n\n").join(out)


def _needs_loose(item: Node) -> bool:
    """A tight item cannot hold two paragraphs in a row (they would merge)."""
    kinds = [child.get("type") for child in item.get("content") or []]
    return any(a == b == "paragraph" for a, b in itertools.pairwise(kinds))


def _indent(first: str, body: str, pad: str) -> str:
    lines = body.split("\n")
    return first + lines[0] + "".join(f"\n{pad}{line}" if line else "\n" for line in lines[1:])


def _heading(level: int, children: list[Node]) -> str:
    text = _inlines(children)
    if "\n" in text and level <= 2:
        return text + "\n" + ("=" if level == 1 else "-") * 3
    text = text.replace("\n", " ")
    # A trailing run of "#" would be read as the closing sequence.
    trailing = re.search(r"(?:^|[ \t])(#+)$", text)
    if trailing and not _escaped_at(text, trailing.start(1)):
        text = text[: trailing.start(1)] + "\\" + text[trailing.start(1) :]
    return "#" * level + (" " + text if text else "")


def _escaped_at(text: str, index: int) -> bool:
    backslashes = len(text[:index]) - len(text[:index].rstrip("\\"))
    return backslashes % 2 == 1


def _fence(text: str, language: str) -> str:
    char = "~" if "`" in language else "`"
    longest = max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)
    fence = char * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}" if text else f"{fence}{language}\n{fence}"


def _table_markdown(rows: list[Node]) -> str:
    grid: list[list[str]] = []
    aligns: list[str | None] = []
    for table_row in rows:
        cells = []
        for cell in table_row.get("content") or []:
            paragraphs = cell.get("content") or []
            text = " ".join(_inlines(p.get("content") or [], table=True) for p in paragraphs)
            cells.append(text.replace("\n", " "))
            if len(grid) == 0:
                aligns.append((cell.get("attrs") or {}).get("align"))
        grid.append(cells)
    if not grid:
        return ""
    count = len(aligns)
    grid = [(cells + [""] * count)[:count] for cells in grid]
    # Columns padded to one width, as people write tables (narrow ones stay at 3).
    widths = [max(3, *(len(cells[i]) for cells in grid)) for i in range(count)]

    def rule(align: str | None, width: int) -> str:
        left = ":" if align in ("left", "center") else "-"
        right = ":" if align in ("right", "center") else "-"
        return left + "-" * (width - 2) + right

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(grid[0]), line([rule(a, w) for a, w in zip(aligns, widths, strict=True)])]
    lines.extend(line(cells) for cells in grid[1:])
    return "\n".join(lines)


# --- inline --------------------------------------------------------------------------------

_DELIMITERS = {"bold": "**", "italic": "*", "strike": "~~"}
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PROTOCOL = re.compile(r"(?:https?|mailto|xmpp)$")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._+-]$")
_AUTOLINK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>\x00-\x1f]*")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_ORDERED_START = re.compile(r"[0-9]{1,9}[.)](?=[ \t]|$)")
# Lines that would start a block rather than continue a paragraph, first character escaped.
_BLOCK_START = re.compile(r"#{1,6}(?:[ \t]|$)|>|[-+](?:[ \t]|$)|=+[ \t]*$|[-:|][-:| \t]*$")


def _inlines(nodes: list[Node], table: bool = False) -> str:
    """Inline nodes as Markdown: marks opened and closed around runs of nodes."""
    out: list[str] = []
    stack: list[Mark] = []  # open marks, outermost first (code is never left open)

    delimiters: list[str] = []  # what opened each mark on the stack
    opening: list[int] = []  # where emphasis delimiters are in out
    closing: list[int] = []
    bare: set[int] = set()  # where bare autolinks are in out
    openings: list[int] = []  # where each mark on the stack was opened in out
    pairs: dict[int, int] = {}  # opening delimiter -> its closing one, in out

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            mark = stack.pop()
            delimiter = delimiters.pop()
            opened_at = openings.pop()
            if delimiter not in ("]", ""):  # "": a mark Markdown has no syntax for
                pairs[opened_at] = len(out)
                closing.append(len(out))
            out.append(_close_mark(mark) if delimiter == "]" else delimiter)

    for index, node in enumerate(nodes):
        marks = [m for m in node.get("marks") or [] if m.get("type") != "code"]
        is_code = any(m.get("type") == "code" for m in node.get("marks") or [])
        keep = 0
        while keep < len(stack) and keep < len(marks) and stack[keep] == marks[keep]:
            keep += 1
        close_to(keep)
        for position, mark in enumerate(marks[keep:], keep):
            if mark.get("type") == "link" and position == len(marks) - 1 and not is_code:
                following = nodes[index + 1] if index + 1 < len(nodes) else None
                before = next((part for part in reversed(out) if part), "")[-1:]
                autolink = _autolink(node, mark, marks, following, before)
                if autolink is not None:
                    if not autolink.startswith("<"):
                        bare.add(len(out))
                    out.append(autolink)
                    break
            if mark.get("type") == "link":
                _unescape_bang(out)
                out.append("[")
                delimiters.append("]")
            else:
                delimiter = _DELIMITERS.get(mark.get("type", ""), "")
                if (
                    delimiter == "*"
                    and stack
                    and delimiters[-1] == "**"
                    and out[-1] == "**"
                    and _run_end(nodes, index, mark) == _run_end(nodes, index, stack[-1])
                ):
                    # "***a***" reads as italic around bold: bold around italic is "**_a_**".
                    delimiter = "_"
                elif closing and closing[-1] == len(out) - 1 and out[-1][0] == delimiter[0]:
                    # "*a***b**" would run the two together: "*a*__b__".
                    delimiter = delimiter.replace("*", "_")
                if delimiter:
                    opening.append(len(out))
                out.append(delimiter)
                delimiters.append(delimiter)
            openings.append(len(out) - 1)
            stack.append(mark)
        else:
            at_line_start = not any(out) or out[-1].endswith("\n")
            out.append(_inline_node(node, is_code, table, at_line_start))
            continue
        # The node went out as an autolink.
    close_to(0)
    _keep_flanking(out, opening, closing, bare, pairs)
    return "".join(out)


def _keep_flanking(
    out: list[str], opening: list[int], closing: list[int], bare: set[int], pairs: dict[int, int]
) -> None:
    """An emphasis delimiter between a letter and punctuation cannot open or close
    (``a*:*``, ``*:*a``), nor one next to a space inside (``* a*``), as CommonMark's flanking
    rules say. Escapes, autolinks and flattened marks can put it there; writing that
    character as a character reference (``&#97;*:*``) lets it work; a bare autolink there
    is written ``<https://…>`` instead.
    """

    def _as_reference(out: list[str], index: int, position: int) -> None:
        if index in bare:
            out[index] = f"<{out[index]}>"
            bare.discard(index)
        else:
            _char_reference(out, index, position)

    for index in opening:
        before = _neighbour(out, index, -1)
        after = _neighbour(out, index, 1)
        if (
            out[index][0] == "*"
            and before
            and after
            and _is_punctuation(before[1])
            and _is_punctuation(after[1])
            and index in pairs
            and before[1] != "_"
            and (_neighbour(out, pairs[index], 1) or (0, ""))[1] != "_"
        ):
            # Between two punctuation characters "*" could also close an earlier "*";
            # "_" runs only pair with "_" runs.
            out[index] = out[index].replace("*", "_")
            out[pairs[index]] = out[pairs[index]].replace("*", "_")
        if after and after[1].isspace():  # emphasis cannot start with a space
            _as_reference(out, after[0], 0)
            after = _neighbour(out, index, 1)
        # "_" cannot open inside a word either.
        if (
            before
            and after
            and _is_word(before[1])
            and (_is_punctuation(after[1]) or (out[index][0] == "_" and _is_word(after[1])))
        ):
            _as_reference(out, before[0], -1)
    for index in closing:
        before = _neighbour(out, index, -1)
        after = _neighbour(out, index, 1)
        if before and before[1].isspace():
            _as_reference(out, before[0], -1)
            before = _neighbour(out, index, -1)
        if (
            before
            and after
            and _is_word(after[1])
            and (_is_punctuation(before[1]) or (out[index][0] == "_" and _is_word(before[1])))
        ):
            _as_reference(out, after[0], 0)


def _neighbour(out: list[str], index: int, step: int) -> tuple[int, str] | None:
    index += step
    while 0 <= index < len(out):
        if out[index]:
            return index, out[index][-1 if step < 0 else 0]
        index += step
    return None


def _char_reference(out: list[str], index: int, position: int) -> None:
    text = out[index]
    char = text[position]
    reference = f"&#{ord(char)};"
    out[index] = text[:-1] + reference if position == -1 else reference + text[1:]


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def _is_word(char: str) -> bool:
    return not _is_punctuation(char) and not char.isspace()


def _run_end(nodes: list[Node], index: int, mark: Mark) -> int:
    """The index of the last node of the run, from ``index`` on, that carries ``mark``."""
    while index + 1 < len(nodes) and mark in (nodes[index + 1].get("marks") or []):
        index += 1
    return index


def _close_mark(mark: Mark) -> str:
    if mark.get("type") == "link":
        attrs = mark.get("attrs") or {}
        return "](" + _destination(attrs.get("href") or "", attrs.get("title")) + ")"
    return _DELIMITERS.get(mark.get("type", ""), "")


def _autolink(
    node: Node, mark: Mark, marks: list[Mark], following: Node | None, before: str
) -> str | None:
    """A link whose text is its address, written as GitHub's bare autolink when that reads
    back the same (emphasis around it keeps its flanking), else as ``<address>``; ``None``
    when it must be ``[text](href)``.
    """
    if node.get("type") != "text" or (mark.get("attrs") or {}).get("title"):
        return None
    if following is not None and mark in (following.get("marks") or []):
        return None
    text = str(node.get("text", ""))
    href = str((mark.get("attrs") or {}).get("href", ""))
    if text == href and _AUTOLINK.fullmatch(text):
        after = None
        if following is None:
            after = ""
        elif following.get("type") == "text" and (following.get("marks") or []) == [
            m for m in marks if m is not mark
        ]:
            after = _escape(following.get("text", ""), line_start=False, table=False)
            # Unless the scan stops in that text, what comes after it is unknown here.
            after = after if re.search(r"\s", after) else None
        if after is not None and check_prev(before or " "):
            matched = match_http(text + after)
            if matched is not None and matched[1] == len(text):
                return text
        return f"<{text}>"
    if href == "mailto:" + text and _EMAIL.fullmatch(text):
        return f"<{text}>"
    return None


def _unescape_bang(out: list[str]) -> None:
    """``!`` right before ``[`` would make a link an image: escape it."""
    if out and out[-1].endswith("!") and not _escaped_at(out[-1], len(out[-1]) - 1):
        out[-1] = out[-1][:-1] + "\\!"


def _inline_node(node: Node, is_code: bool, table: bool, at_line_start: bool) -> str:
    kind = node.get("type")
    attrs: dict[str, Any] = node.get("attrs") or {}
    if kind == "hardBreak":
        return "\\\n"
    if kind == "image":
        alt = _escape(str(attrs.get("alt") or ""), line_start=False, table=table)
        return "![" + alt + "](" + _destination(attrs.get("src") or "", attrs.get("title")) + ")"
    if kind == "rawInline":
        return str(attrs.get("source", ""))
    if kind == "footnoteReference":
        return f"[^{attrs.get('label', '')}]"
    text = str(node.get("text", ""))
    if is_code:
        return _code_span(text, table)
    lines = text.split("\n")
    return "\n".join(
        _escape(line, line_start=(number > 0 or at_line_start), table=table)
        for number, line in enumerate(lines)
    )


def _code_span(text: str, table: bool) -> str:
    text = text.replace("\n", " ")
    runs = {len(run) for run in re.findall("`+", text)}
    size = 1
    while size in runs:
        size += 1
    if (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and text.strip(" "))
    ):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return "`" * size + text + "`" * size


def _destination(href: str, title: str | None) -> str:
    href = _ENTITY.sub(lambda m: "\\" + m.group(0), href.replace("\\", "\\\\"))
    if not href or re.search(r"[\s()<>]", href):
        href = "<" + href.replace("<", "\\<").replace(">", "\\>") + ">"
    if title:
        escaped = title.replace("\\", "\\\\").replace('"', '\\"')
        escaped = _ENTITY.sub(lambda m: "\\" + m.group(0), escaped)
        return f'{href} "{escaped}"'
    return href


def _escape(text: str, line_start: bool, table: bool) -> str:
    """``text`` escaped so that it reads back as the same text, and only where needed."""
    prefix = ""
    if line_start:
        ordered = _ORDERED_START.match(text)
        if ordered:
            prefix, text = (
                text[: ordered.end() - 1] + "\\" + text[ordered.end() - 1],
                text[ordered.end() :],
            )
            line_start = False
        elif _BLOCK_START.match(text):
            prefix, text = "\\" + text[0], text[1:]
            line_start = False
    out = [prefix]
    length = len(text)
    for i, char in enumerate(text):
        before = text[i - 1] if i > 0 else ""
        after = text[i + 1] if i + 1 < length else ""
        escape = False
        if char == "\\":
            escape = not after or _is_ascii_punctuation(after)
        elif char in "*`[]~":
            escape = True
        elif char == "_":
            escape = not (before.isalnum() and after.isalnum())
        elif char == "<":
            escape = not after or after.isalpha() or after in "/!?"
        elif char == "&":
            escape = _ENTITY.match(text, i) is not None
        elif char == "|":
            escape = table
        elif char == ":":
            escape = _PROTOCOL.search(text, 0, i) is not None
        elif char == "@":
            escape = bool(_EMAIL_LOCAL.search(before)) and after.isalnum()
        elif char == "." and text[max(0, i - 3) : i] == "www":
            start = i - 3
            escape = start == 0 or text[start - 1] in " \t*_~("
        out.append("\\" + char if escape else char)
    return "".join(out)


def _is_ascii_punctuation(char: str) -> bool:
    return char.isascii() and not char.isalnum() and char.isprintable() and char != " "
