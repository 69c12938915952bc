// The editor's schema: every node, mark and attribute that src/codewalkers/content.py
// reads and writes, so that a page loaded here and saved again keeps what it had.
// Nothing may render a `style` attribute or inject a <style> element: the dashboard's
// Content-Security-Policy forbids inline styles (alignment is a data attribute, styled in
// dashboard.css).
import { Extension, Node, mergeAttributes } from "@tiptap/core";
import StarterKit from "@tiptap/starter-kit";
import { Code } from "@tiptap/extension-code";
import { Image } from "@tiptap/extension-image";
import { Link } from "@tiptap/extension-link";
import { ListItem, TaskItem, TaskList } from "@tiptap/extension-list";
import { Table, TableCell, TableHeader, TableRow } from "@tiptap/extension-table";
import { Placeholder } from "@tiptap/extensions";

const align = {
  default: null,
  parseHTML: (element) => element.getAttribute("data-align"),
  renderHTML: (attributes) => (attributes.align ? { "data-align": attributes.align } : {}),
};

// Lists: tight (no blank lines between items), as content.py and tiptap-markdown store it.
// A new list is tight, as content.py assumes when the attribute is missing.
const ListAttributes = Extension.create({
  name: "cwListAttributes",
  addGlobalAttributes() {
    return [
      {
        types: ["bulletList", "orderedList", "taskList"],
        attributes: { tight: { default: true, rendered: false, keepOnSplit: true } },
      },
      {
        // "> [!NOTE]" alerts.
        types: ["blockquote"],
        attributes: {
          alert: {
            default: null,
            parseHTML: (element) => element.getAttribute("data-alert"),
            renderHTML: (attributes) => (attributes.alert ? { "data-alert": attributes.alert } : {}),
          },
        },
      },
    ];
  },
});

// A task item in a list that also has plain items is a listItem with `checked`.
const CheckedListItem = ListItem.extend({
  addAttributes() {
    return {
      ...this.parent?.(),
      checked: {
        default: null,
        keepOnSplit: false,
        parseHTML: (element) => {
          const value = element.getAttribute("data-checked");
          return value === null ? null : value === "true";
        },
        renderHTML: (attributes) =>
          attributes.checked === null || attributes.checked === undefined
            ? {}
            : { "data-checked": String(attributes.checked) },
      },
    };
  },
});

// Tiptap's table renders inline widths (style=...): not here.
const PlainTable = Table.extend({
  renderHTML({ HTMLAttributes }) {
    return ["table", mergeAttributes(this.options.HTMLAttributes, HTMLAttributes), ["tbody", 0]];
  },
});
const AlignedCell = TableCell.extend({
  addAttributes() {
    return { ...this.parent?.(), align };
  },
});
const AlignedHeader = TableHeader.extend({
  addAttributes() {
    return { ...this.parent?.(), align };
  },
});

// What Markdown has and Tiptap has no node for, kept verbatim (HTML blocks, front matter,
// inline HTML): shown as source, not editable here (`cw page edit` edits them).
const RawMarkdown = Node.create({
  name: "rawMarkdown",
  group: "block",
  atom: true,
  selectable: true,
  addAttributes() {
    return {
      kind: { default: "html", parseHTML: (element) => element.getAttribute("data-raw-markdown") },
      source: { default: "", parseHTML: (element) => element.textContent },
    };
  },
  parseHTML() {
    return [{ tag: "pre[data-raw-markdown]" }];
  },
  renderHTML({ node }) {
    return [
      "pre",
      {
        "data-raw-markdown": node.attrs.kind,
        class: "raw-markdown",
        title: "Kept verbatim (" + node.attrs.kind + "): edit it with `cw page edit`",
      },
      node.attrs.source,
    ];
  },
});

const RawInline = Node.create({
  name: "rawInline",
  group: "inline",
  inline: true,
  atom: true,
  addAttributes() {
    return { source: { default: "", parseHTML: (element) => element.textContent } };
  },
  parseHTML() {
    return [{ tag: "code[data-raw-inline]" }];
  },
  renderHTML({ node }) {
    return ["code", { "data-raw-inline": "", class: "raw-inline" }, node.attrs.source];
  },
});

const FootnoteReference = Node.create({
  name: "footnoteReference",
  group: "inline",
  inline: true,
  atom: true,
  addAttributes() {
    return { label: { default: "", parseHTML: (element) => element.getAttribute("data-footnote-ref") } };
  },
  parseHTML() {
    return [{ tag: "sup[data-footnote-ref]" }];
  },
  renderHTML({ node }) {
    return ["sup", { "data-footnote-ref": node.attrs.label }, "[^" + node.attrs.label + "]"];
  },
});

const FootnoteDefinition = Node.create({
  name: "footnoteDefinition",
  group: "block",
  content: "block*",
  defining: true,
  addAttributes() {
    return { label: { default: "", parseHTML: (element) => element.getAttribute("data-footnote") } };
  },
  parseHTML() {
    return [{ tag: "div[data-footnote]" }];
  },
  renderHTML({ node }) {
    return ["div", { "data-footnote": node.attrs.label, class: "footnote" }, 0];
  },
});

export function extensions(placeholder) {
  return [
    StarterKit.configure({
      code: false,
      listItem: false,
      underline: false, // Markdown has no underline
      trailingNode: false, // would add an empty paragraph to every page it opens
      link: false,
    }),
    // A link is the innermost mark (Tiptap's Link would be the outermost): emphasis around a
    // link, "*see [x](u)*", the common case in Markdown, reads back as it was written.
    Link.extend({ priority: 90 }).configure({ openOnClick: false, autolink: true, linkOnPaste: true }),
    // Code may sit inside a link or emphasis, as in Markdown ([`x`](url), **`x`**).
    Code.extend({ excludes: "" }),
    CheckedListItem,
    TaskList,
    TaskItem.configure({ nested: true }),
    PlainTable.configure({ resizable: false }),
    TableRow,
    AlignedCell,
    AlignedHeader,
    Image.configure({ inline: true }),
    RawMarkdown,
    RawInline,
    FootnoteReference,
    FootnoteDefinition,
    ListAttributes,
    Placeholder.configure({ placeholder }),
  ];
}
