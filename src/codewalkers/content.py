"""Markdown <-> Tiptap JSON, for page and phase content.

People write and read Markdown; the database stores Tiptap (ProseMirror) documents, as the
web editor does. Parsing uses markdown-it-py (CommonMark); rendering walks the document.
Headings, paragraphs, bullet and ordered lists, code blocks, blockquotes, horizontal rules,
hard breaks, bold, italic, strikethrough, inline code and links survive the round trip.
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

Node = dict[str, Any]

_parser = MarkdownIt("commonmark").enable("strikethrough")

_MARKS = {"strong": "bold", "em": "italic", "s": "strike", "link": "link"}
_BLOCKS = {
    "paragraph": "paragraph",
    "heading": "heading",
    "bullet_list": "bulletList",
    "ordered_list": "orderedList",
    "list_item": "listItem",
    "blockquote": "blockquote",
}


def markdown_to_tiptap(markdown: str) -> Node:
    """A Tiptap document for ``markdown``."""
    doc: Node = {"type": "doc", "content": []}
    stack: list[Node] = [doc]
    for token in _parser.parse(markdown):
        parent = stack[-1]
        if token.nesting == 1:
            node = _open_block(token)
            parent.setdefault("content", []).append(node)
            stack.append(node)
        elif token.nesting == -1:
            stack.pop()
        elif token.type == "inline":
            inline = _inline(token.children or [])
            if inline:
                parent.setdefault("content", []).extend(inline)
        elif token.type in ("fence", "code_block"):
            node = {"type": "codeBlock", "attrs": {"language": token.info.strip() or None}}
            text = token.content[:-1] if token.content.endswith("\n") else token.content
            if text:
                node["content"] = [{"type": "text", "text": text}]
            parent.setdefault("content", []).append(node)
        elif token.type == "hr":
            parent.setdefault("content", []).append({"type": "horizontalRule"})
    return doc


def _open_block(token: Token) -> Node:
    kind = _BLOCKS.get(token.type.removesuffix("_open"), "paragraph")
    node: Node = {"type": kind}
    if kind == "heading":
        node["attrs"] = {"level": int(token.tag[1])}
    elif kind == "orderedList":
        start = token.attrGet("start")
        node["attrs"] = {"start": int(start) if start is not None else 1}
    return node


def _inline(tokens: list[Token]) -> list[Node]:
    nodes: list[Node] = []
    marks: list[dict[str, Any]] = []
    for token in tokens:
        if token.type.endswith("_open") and token.type[:-5] in _MARKS:
            mark: dict[str, Any] = {"type": _MARKS[token.type[:-5]]}
            if mark["type"] == "link":
                mark["attrs"] = {"href": token.attrGet("href")}
                if token.attrGet("title"):
                    mark["attrs"]["title"] = token.attrGet("title")
            marks.append(mark)
        elif token.type.endswith("_close") and token.type[:-6] in _MARKS:
            kind = _MARKS[token.type[:-6]]
            for index in range(len(marks) - 1, -1, -1):
                if marks[index]["type"] == kind:
                    del marks[index]
                    break
        elif token.type in ("text", "code_inline", "html_inline"):
            extra = [{"type": "code"}] if token.type == "code_inline" else []
            _append_text(nodes, token.content, marks + extra)
        elif token.type == "softbreak":
            _append_text(nodes, " ", marks)
        elif token.type == "hardbreak":
            nodes.append({"type": "hardBreak"})
        elif token.type == "image":
            _append_text(nodes, token.content, marks)
    return nodes


def _append_text(nodes: list[Node], text: str, marks: list[dict[str, Any]]) -> None:
    if not text:
        return
    copied = [dict(mark) for mark in marks]
    last = nodes[-1] if nodes else None
    if last is not None and last.get("type") == "text" and last.get("marks", []) == copied:
        last["text"] += text
        return
    node: Node = {"type": "text", "text": text}
    if copied:
        node["marks"] = copied
    nodes.append(node)


def tiptap_to_markdown(doc: Node | None) -> str:
    """Markdown for a Tiptap document (empty for ``None``)."""
    if not doc:
        return ""
    return "\n\n".join(_block(node) for node in doc.get("content", [])).strip() + "\n"


def _block(node: Node, indent: str = "") -> str:
    kind = node.get("type")
    children = node.get("content", [])
    if kind == "heading":
        return "#" * int(node.get("attrs", {}).get("level", 1)) + " " + _inlines(children)
    if kind == "codeBlock":
        language = node.get("attrs", {}).get("language") or ""
        text = "".join(child.get("text", "") for child in children)
        fence = "````" if "```" in text else "```"
        return f"{fence}{language}\n{text}\n{fence}"
    if kind == "horizontalRule":
        return "---"
    if kind == "blockquote":
        inner = "\n\n".join(_block(child) for child in children)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("bulletList", "orderedList"):
        start = int(node.get("attrs", {}).get("start", 1)) if kind == "orderedList" else 0
        items = []
        for number, item in enumerate(children, start):
            bullet = f"{number}. " if kind == "orderedList" else "- "
            body = ""
            for child in item.get("content", []):
                tight = child.get("type") in ("bulletList", "orderedList")
                body += ("\n" if tight else "\n\n") if body else ""
                body += _block(child)
            pad = " " * len(bullet)
            lines = body.split("\n")
            items.append(
                bullet
                + lines[0]
                + "".join(f"\n{pad}{line}" if line else "\n" for line in lines[1:])
            )
        return "\n".join(items)
    return _inlines(children)


def _inlines(nodes: list[Node]) -> str:
    out = []
    for node in nodes:
        if node.get("type") == "hardBreak":
            out.append("\\\n")
            continue
        text = node.get("text", "")
        marks = [mark.get("type") for mark in node.get("marks", [])]
        if "code" in marks:
            tick = "``" if "`" in text else "`"
            text = f"{tick}{text}{tick}"
        else:
            text = _escape(text)
        if "bold" in marks:
            text = f"**{text}**"
        if "italic" in marks:
            text = f"*{text}*"
        if "strike" in marks:
            text = f"~~{text}~~"
        for mark in node.get("marks", []):
            if mark.get("type") == "link":
                href = mark.get("attrs", {}).get("href", "")
                text = f"[{text}]({href})"
        out.append(text)
    return "".join(out)


def _escape(text: str) -> str:
    for char in ("\\", "*", "_", "`", "[", "]", "~"):
        text = text.replace(char, "\\" + char)
    if text[:1] in ("#", ">", "-", "+") or (text[:1].isdigit() and ". " in text[:4]):
        text = "\\" + text
    return text
