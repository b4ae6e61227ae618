#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes csock's reference from its public headers, so that it cannot drift from them: a
section-3 man page for every public function and every structure with a comment, csock(3) with
the headers' own comments and a list of the pages, and one HTML page for it all.

Every header under the include directory is read, whatever it is called. A function is
documented by the comment right above its declaration; declarations that follow it with no blank
line between share that comment and one page (the others become .so links to it). A header's
banner comments (a line of dashes, a title, a line of dashes) divide it into sections, and a
page's SEE ALSO names the other functions of its section. The comment's sentences that start
"Returns" go to RETURN VALUE, and the codes they name to ERRORS.

Usage:
  mkref.py INCLUDE_DIR --man DIR --html FILE [--docdir PATH] [--stamp FILE] [--leave-out H]...
  mkref.py INCLUDE_DIR --check [--leave-out H]...
                                  lists public functions without a doc comment (exit 1 if any)
--leave-out csock/tls.h reads every header but that one (a part the build leaves out).
With --man, DIR/man3 receives the pages, and .3 files there that no function needs any more are
removed. --docdir is where docs/*.md are installed, for the pages' pointers to them."""
import argparse
import errno
import html
import os
import re
import sys

PUBLIC = re.compile(r"^csock_[a-z0-9]\w*$")
DASHES = re.compile(r"^-{20,}$")


class Item:
    """One top-level thing of a header: a comment, or a declaration with its comment."""

    def __init__(self, kind, line, text):
        self.kind = kind  # "comment", "decl", "blank" or "cpp"
        self.line = line  # first line, 1-based
        self.text = text  # a comment's text without its markers, or the declaration's lines
        self.name = None  # a function declaration's name


class Group:
    """Functions documented by one comment, or a structure with its comment: one page."""

    def __init__(self, header, section, comment, kind="function"):
        self.header, self.section, self.comment = header, section, comment
        self.kind = kind  # "function" or "type"
        self.decls = []

    @property
    def names(self):
        return [d.name for d in self.decls]


class Header:
    def __init__(self, path, include):
        self.path, self.include = path, include  # include: "csock/loop.h"
        self.intro = ""
        self.sections = []  # [title, [Group or Item]]
        self.types = []  # a Group for each structure with a comment (csock_addr, csock_msg)
        self.undocumented = []  # declarations of public functions with no comment


def comment_text(raw):
    """The text of a /* ... */ comment: markers and the " * " margin removed, lines kept."""
    body = raw.strip()[2:-2]
    lines = body.split("\n")
    out = []
    for i, line in enumerate(lines):
        if i > 0:
            line = re.sub(r"^\s*\* ?", "", line) if re.match(r"^\s*\*", line) else line.strip()
        elif line.startswith(" "):
            line = line[1:]
        out.append(line.rstrip())
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out)


def strip_comments(code):
    return re.sub(r"/\*.*?\*/", " ", code, flags=re.S)


def scan(text):
    """Splits a header into top-level items, in order. Blocks only a C++ compiler sees are left
    out, as are preprocessor lines (kept as "cpp" items: they end a comment's reach)."""
    items = []
    lines = text.split("\n")
    i = 0
    depth = 0     # #if nesting, to find the #endif of a block about __cplusplus
    skip_at = []  # the depths of the blocks about __cplusplus we are in
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("#"):
            start = i
            while lines[i].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
            directive = stripped[1:].strip()
            if re.match(r"if", directive):
                depth += 1
                if "__cplusplus" in directive:
                    skip_at.append(depth)
            elif directive.startswith("endif"):
                if skip_at and skip_at[-1] == depth:
                    skip_at.pop()
                depth -= 1
            if not skip_at:
                items.append(Item("cpp", start + 1, "\n".join(lines[start:i + 1])))
            i += 1
            continue
        if skip_at:
            i += 1
            continue
        if not stripped:
            items.append(Item("blank", i + 1, ""))
            i += 1
            continue
        if stripped.startswith("//"):
            i += 1
            continue
        if stripped.startswith("/*"):
            start = i
            while "*/" not in lines[i] and i + 1 < len(lines):
                i += 1
            items.append(Item("comment", start + 1, comment_text("\n".join(lines[start:i + 1]))))
            i += 1
            continue
        # A declaration: up to the ';' that ends it outside braces and comments.
        start = i
        while True:
            code = strip_comments("\n".join(lines[start:i + 1]))
            code = re.sub(r"/\*.*", "", code, flags=re.S)  # a comment still open
            if code.count("{") == code.count("}") and code.rstrip().endswith(";"):
                break
            if i + 1 >= len(lines):
                break
            i += 1
        item = Item("decl", start + 1, "\n".join(lines[start:i + 1]))
        code = " ".join(strip_comments(item.text).split())
        if not code.startswith("typedef") and "{" not in code:
            m = re.search(r"\b(csock_\w+)\s*\(", code)
            if m and not re.search(r"\(\s*\*\s*" + m.group(1), code):
                item.name = m.group(1)
        items.append(item)
        i += 1
    return items


def banner_title(text):
    """The title of a section banner comment, or None for other comments."""
    lines = [line.strip() for line in text.split("\n")]
    if len(lines) >= 3 and DASHES.match(lines[0]) and DASHES.match(lines[-1]):
        return " ".join(lines[1:-1]).strip()
    return None


def parse(path, include):
    """Reads one header into its intro, its sections and their groups."""
    header = Header(path, include)
    with open(path, encoding="utf-8") as f:
        items = scan(f.read())
    section = None
    pending = None  # a comment right above what follows
    group = None    # the group a following declaration joins
    code = None     # the type or macro a following line of code joins

    def current():
        nonlocal section
        if section is None:  # a header without banners is one section, named by its intro
            section = [re.split(r": ", first_sentence(header.intro))[0] or include, []]
            header.sections.append(section)
        return section[1]

    for item in items:
        if item.kind == "comment":
            if "SPDX-License-Identifier" in item.text:
                continue
            title = banner_title(item.text)
            if title is not None:
                section = [title, []]
                header.sections.append(section)
                pending = group = code = None
                continue
            pending, group, code = item, None, None
            continue
        public_macro = item.kind == "cpp" and re.match(r"#\s*define\s+CSOCK_(?!_)\w*", item.text) \
            and not re.match(r"#\s*define\s+CSOCK\w*_H\s*$", item.text)
        if item.kind == "blank" or (item.kind == "cpp" and not public_macro):
            if pending is not None and section is None and not header.intro:
                header.intro = pending.text  # the header's own comment, standing alone
            elif pending is not None:
                current().append(pending)  # a comment about the lines after it
            pending = group = code = None
            continue
        if item.name and PUBLIC.match(item.name):
            if group is None and pending is None:
                header.undocumented.append(item)
                continue
            if group is None:
                entries = current()
                group = Group(header, section[0], pending.text)
                entries.append(group)
            group.decls.append(item)
            pending = code = None
            continue
        if code is not None:  # the next line of a block of types or macros
            code.text += "\n" + item.text
            continue
        item.comment = pending.text if pending is not None else ""
        current().append(item)
        struct = re.match(r"typedef struct (csock_[a-z]\w*) \{.*\} (\w+);$",
                          " ".join(strip_comments(item.text).split()))
        if struct and struct.group(1) == struct.group(2) and pending is not None:
            item.name = struct.group(1)
            header.types.append(Group(header, section[0], pending.text, "type"))
            header.types[-1].decls.append(item)
        code, pending, group = item, None, None
    return header


def headers_under(include_dir, leave_out=()):
    """Every header under include_dir but those in leave_out (paths such as csock/tls.h, of parts
    not built): csock.h first, then the others by path."""
    found = []
    for root, dirs, files in os.walk(include_dir):
        dirs.sort()
        for name in files:
            if name.endswith(".h"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, include_dir).replace(os.sep, "/")
                if rel not in leave_out:
                    found.append(rel)
    found.sort(key=lambda rel: (rel != "csock.h", rel))
    return [parse(os.path.join(include_dir, rel), rel) for rel in found]


def version_of(headers):
    for header in headers:
        with open(header.path, encoding="utf-8") as f:
            text = f.read()
        parts = [re.search(rf"^#define CSOCK_VERSION_{p} (\d+)", text, re.M) for p in
                 ("MAJOR", "MINOR", "PATCH")]
        if all(parts):
            return ".".join(p.group(1) for p in parts)
    sys.exit("mkref: no CSOCK_VERSION_MAJOR/MINOR/PATCH in the headers")


# --- The comment's text, in paragraphs and sentences ---------------------------------------------

def blocks(text):
    """Splits a comment into blocks: ("p", text) paragraphs, ("pre", text) for indented lines,
    ("li", text) for "- " items."""
    out = []
    para = []

    def flush():
        if para:
            out.append(("p", " ".join(para)))
            para.clear()

    for line in text.split("\n"):
        if not line.strip():
            flush()
        elif line.startswith("  ") and not para and not (out and out[-1][0] == "li"):
            flush()
            if out and out[-1][0] == "pre":
                out[-1] = ("pre", out[-1][1] + "\n" + line[2:])
            else:
                out.append(("pre", line[2:]))
        elif line.startswith("- "):
            flush()
            out.append(("li", line[2:].strip()))
        elif line.startswith("  ") and out and out[-1][0] == "li" and not para:
            out[-1] = ("li", out[-1][1] + " " + line.strip())
        else:
            para.append(line.strip())
    flush()
    return out


def sentences(text):
    """Splits a paragraph into sentences: at ". " before a capital, a quote or a symbol, outside
    quotes and parentheses (so "bind 127.0.0.1:80: ..." or "(e.g. 0660)" stay whole)."""
    out = []
    start = depth = 0
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth = max(0, depth - 1)
            if (depth == 0 and text[i - 1] == "." and text[i + 1:i + 2] == " "
                    and re.match(r"[A-Z]", text[i + 2:])):  # "(... of its own.) Then"
                out.append(text[start:i + 1].strip())
                start = i + 2
        elif (c == "." and not quoted and depth == 0 and text[i + 1:i + 2] == " "
              and re.match(r"[A-Za-z\"*(]", text[i + 2:])
              and not re.search(r"\b(e\.g|i\.e|etc|vs)$", text[start:i])):
            out.append(text[start:i + 1].strip())
            start = i + 2
        i += 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


RETURNS = re.compile(r"^((Each|Both) returns?|Returns?|Fails|Never (fails?|NULL)|Errors:|"
                     r"On failure|On any other failure|Every result)\b")
MORE_RETURNS = re.compile(r"CSOCK_E[A-Z]|\bNULL\b|negative code|\breturns?\b")


def split_returns(text):
    """Takes the comment's sentences about what the function returns and how it fails out of its
    description: (description blocks, return sentences). A return sentence starts with
    "Returns" (or "Fails", "Errors:", ...); the sentences after it in its paragraph stay with it
    while they name an error code, NULL or what is returned. The first sentence, which says what
    the function does, always stays in the description ("Returns the socket's timeout")."""
    desc, returns = [], []
    first = True
    for kind, body in blocks(text):
        if kind != "p":
            desc.append((kind, body))
            continue
        keep, taken = [], []
        in_returns = False
        for s in sentences(body):
            if first:
                first = False
                keep.append(s)
                continue
            if RETURNS.match(s):
                in_returns = True
            elif in_returns and not MORE_RETURNS.search(s):
                in_returns = False
            (taken if in_returns else keep).append(s)
        if keep:
            desc.append(("p", " ".join(keep)))
        if taken:
            returns.append(" ".join(taken))
    return desc, returns


def errors_named(text):
    """The CSOCK_E* codes a text names, in order, each with what it says about them: the
    parenthesis right after the code, when there is one."""
    found = {}
    text = " ".join(text.split())
    for m in re.finditer(r"\bCSOCK_E[A-Z0-9_]+\b(\*)?", text):
        code = m.group(0)
        if code.endswith("*"):
            code = code[:-1] + " codes"
        detail = ""
        rest = text[m.end():]
        if rest.startswith(" (") or rest.startswith("("):
            detail = balanced(rest[rest.index("("):])
        found.setdefault(code, [])
        if detail and detail not in found[code]:
            found[code].append(detail)
    return found


def code_meanings(headers):
    """What each error code means when a comment names it without saying more: for a system
    error the system's text (csock_strerror gives the same), for csock's own codes the comment on
    the enum member that defines it, for the resolver's codes a pointer to getaddrinfo(3)."""
    out = {}
    for name, number in errno.__dict__.items():
        if name.startswith("E") and isinstance(number, int):
            out["CSOCK_" + name] = os.strerror(number)
    for header in headers:
        for _, entries in header.sections:
            for item in entries:
                if isinstance(item, Item) and item.kind == "decl" and "enum" in item.text:
                    for m in re.finditer(r"/\*(.*?)\*/\s*(CSOCK_E\w+)\s*=", item.text, re.S):
                        out[m.group(2)] = " ".join(
                            re.sub(r"^\s*\* ?", "", m.group(1), flags=re.M).split())
    return out


def meaning(code, meanings):
    if code.startswith("CSOCK_EAI_"):
        return "a resolver error: the name could not be looked up as asked (see getaddrinfo(3))"
    return meanings.get(code, "")


def balanced(text):
    """The inside of the parenthesis text starts with, quotes respected."""
    depth, quoted = 0, False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
            if depth == 0:
                return text[1:i]
    return ""


def first_sentence(text):
    return sentences(blocks(text)[0][1])[0] if text and blocks(text) else ""


def summary(text):
    """A short phrase for NAME: the first sentence, without asides in parentheses, cut at its
    first ':' or ';' and without a "Step N:" label."""
    s = first_sentence(text)
    s = re.sub(r"^(Client )?[Ss]tep \d+: ", "", s)
    while True:
        cut = remove_aside(s)
        if cut == s:
            break
        s = cut
    s = re.split(r"; |: ", s)[0].strip().rstrip(".")
    s = re.sub(r"\s+,", ",", s)
    if len(s) > 70:  # a long one ends before its first aside of the kind NAME can do without
        m = re.search(r"(?<=.{25}), (which|so|as|like|or|with|naming|by|on|sent|starting|when)\b", s)
        s = s[:m.start()] if m else s
    if re.match(r"[A-Z][a-z]", s):
        s = s[0].lower() + s[1:]
    return s


def remove_aside(s):
    m = re.search(r" \(", s)
    if not m:
        return s
    inside = balanced(s[m.start() + 1:])
    if not inside:  # unbalanced: leave it
        return s
    return s[:m.start()] + s[m.start() + 1 + len(inside) + 2:]


# --- Man pages --------------------------------------------------------------------------------

def roff_escape(text, code=False):
    """Text troff shows as it is: backslashes, quotes and minus signs escaped (a hyphen between
    two letters, as in "close-on-exec", stays a hyphen, except in code)."""
    text = text.replace("\\", "\\e").replace("'", "\\(aq").replace("`", "\\(ga")
    return re.sub(r"-" if code else r"(?<![A-Za-z])-|-(?![A-Za-z])", r"\\-", text)


def roff_line(text):
    """A line of text that troff will not take as a request."""
    return "\\&" + text if text.startswith((".", "'")) else text


def roff_text(text, names):
    """Text for a filled paragraph: escaped, with csock's function names in bold."""
    out = roff_escape(text)
    if not names:
        return roff_line(out)
    pattern = r"\b(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")\b"
    out = re.sub(pattern, r"\\fB\1\\fR", out)
    return roff_line(out)


def roff_blocks(blocks_, names):
    out = []
    for kind, body in blocks_:
        if kind == "p":
            out += [".PP", roff_text(body, names)]
        elif kind == "li":
            out += [".IP \\(bu 2", roff_text(body, names)]
        else:
            out += [".PP", ".EX"] + [roff_line(roff_escape(line, code=True)) for line in body.split("\n")]
            out += [".EE"]
    return out


def man_page(group, version, date, all_names, see_docs, meanings, type_names=(),
             headers_seen=()):
    names = group.names
    desc, returns = split_returns(group.comment)
    out = page_head(names, "include/" + group.header.include, summary(group.comment), version,
                    date)
    out += [".SH SYNOPSIS", ".nf", f".B #include <{group.header.include}>", ".PP"]
    for decl in group.decls:
        out += [roff_line(roff_escape(line, code=True)) for line in decl.text.split("\n")]
    out += [".fi", ".SH DESCRIPTION"]
    out += roff_blocks(desc, all_names)
    if returns:
        out += [".SH RETURN VALUE"]
        for para in returns:
            out += [".PP", roff_text(para, all_names)]
    errors = errors_named(" ".join(returns))  # a code the description names may be a callback's
    if errors:
        out += [".SH ERRORS", ".PP",
                "The codes named under RETURN VALUE, each with what it says of the code or else",
                "the text", ".BR csock_strerror (3)",
                "gives for it. A failure\(aqs message, naming the operation, is read with",
                ".BR csock_lasterror (3)."]
        for code, details in errors.items():
            out += [".TP", f".B {code}"]
            text = "; ".join(details) if details else meaning(code, meanings)
            out.append(roff_text(text, all_names) if text else "\&")
    if group.kind == "type":  # the functions that take it
        others = [n for g in groups([group.header] + headers_seen) for n in g.names
                  if any(re.search(rf"\b{names[0]}\b", d.text) for d in g.decls)]
    else:
        others = [n for n in section_names(group) if n not in names]
        others += [t for t in type_names if t not in others and
                   any(re.search(rf"\b{t}\b", d.text) for d in group.decls)]
    docs = sorted(set(re.findall(r"\bdocs/[\w.-]+\.md\b", group.section + group.comment)))
    out += [".SH SEE ALSO"] + see_also(others + ["csock"])
    for doc in docs:
        out += [".PP", f"{doc}" + (f", installed as {see_docs}/{doc}" if see_docs else "")]
    return "\n".join(out) + "\n"


def page_head(names, source, what, version, date):
    return [".\\\" SPDX-License-Identifier: MIT",
            f".\\\" Made by tools/mkref.py from {source}: edit the header, not this page.",
            f'.TH {names[0]} 3 "{date}" "csock {version}" "csock Library Functions"',
            ".nh", ".ad l",
            ".SH NAME",
            roff_escape(", ".join(names)) + " \\- " + roff_escape(what)]


def see_also(names):
    return [f".BR {n} (3){',' if i + 1 < len(names) else ''}" for i, n in enumerate(names)]


def overview_page(headers, version, date, all_names, see_docs):
    """csock(3): the conventions every function follows (csock.h's own comment), then every
    header with its comment and its pages, section by section."""
    out = page_head(["csock"], "include/", "Python's socket module, in C: the library", version,
                    date)
    out += [".SH SYNOPSIS", ".nf"] + [f".B #include <{h.include}>" for h in headers]
    out += [".PP", "Link with \\fI\\-lcsock\\fP (pkg-config: \\fIcsock\\fP).", ".fi"]
    out += [".SH DESCRIPTION"]
    for header in headers:
        if header is not headers[0]:
            out += [f'.SS "<{header.include}>"']
        out += roff_blocks(blocks(header.intro), all_names)
        for title, entries in header.sections:
            pages = [g for g in entries if isinstance(g, Group)]
            if not pages:
                continue
            out += [f'.SS "{roff_escape(title)}"' if len(header.sections) > 1 else ".PP"]
            for group in pages:
                out += [".TP", ", ".join(f"\\fB{n}\\fR(3)" for n in group.names),
                        roff_text(summary(group.comment), all_names)]
        types = [t for t in header.types if t.names[0] not in all_names]
        if types:
            out += [".PP", "Structures:"] + see_also([t.names[0] for t in types])
    out += [".SH SEE ALSO", ".BR csock (1)"]
    out += [".PP", "README.md, CHANGELOG.md, docs/*.md and reference.html" +
            (f", installed in {see_docs}" if see_docs else "")]
    return "\n".join(out) + "\n"


def section_names(group):
    for title, entries in group.header.sections:
        if title == group.section:
            return [n for g in entries if isinstance(g, Group) for n in g.names]
    return []


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_man(headers, directory, version, date, docdir):
    man3 = os.path.join(directory, "man3")
    os.makedirs(man3, exist_ok=True)
    all_names = [n for g in groups(headers) for n in g.names]
    types = [t for h in headers for t in h.types if t.names[0] not in all_names]
    type_names = [t.names[0] for t in types]
    meanings = code_meanings(headers)
    wanted = set()
    for group in list(groups(headers)) + types:
        first = group.names[0]
        others = [h for h in headers if h is not group.header]
        pages = {first: man_page(group, version, date, all_names + type_names, docdir, meanings,
                                 type_names, others)}
        for other in group.names[1:]:
            pages[other] = f".so man3/{first}.3\n"
        for name, text in pages.items():
            write_if_changed(os.path.join(man3, name + ".3"), text)
            wanted.add(name + ".3")
    write_if_changed(os.path.join(man3, "csock.3"),
                     overview_page(headers, version, date, all_names, docdir))
    wanted.add("csock.3")
    for name in os.listdir(man3):
        if name.endswith(".3") and name not in wanted:
            os.remove(os.path.join(man3, name))
    return len(wanted)


def groups(headers):
    for header in headers:
        for _, entries in header.sections:
            for entry in entries:
                if isinstance(entry, Group):
                    yield entry


# --- HTML ---------------------------------------------------------------------------------------

CSS = """body { max-width: 52em; margin: 2em auto; padding: 0 1em; font: 16px/1.5 sans-serif;
  color: #222; }
pre { background: #f4f4f4; padding: .5em .8em; overflow-x: auto; font-size: 14px; }
code, pre { font-family: monospace; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.5em; }
h3 { margin-top: 2em; }
h4 { margin: 1.8em 0 .3em; font-family: monospace; font-size: 16px; }
.returns { border-left: 3px solid #9ab; padding-left: .8em; }
nav ul { columns: 2; }
a { color: #147; }"""


def html_text(text, names):
    out = html.escape(text, quote=False)
    pattern = r"\b(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")\b"
    out = re.sub(pattern, r'<a href="#\1"><code>\1</code></a>', out)
    return re.sub(r"\b(docs/[\w.-]+\.md)\b", r'<a href="\1">\1</a>', out)


def html_blocks(blocks_, names):
    out = []
    items = []
    for kind, body in blocks_ + [("end", "")]:
        if kind != "li" and items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items = []
        if kind == "p":
            out.append(f"<p>{html_text(body, names)}</p>")
        elif kind == "li":
            items.append(html_text(body, names))
        elif kind == "pre":
            out.append(f"<pre>{html.escape(body)}</pre>")
    return out


def section_id(header, title):
    return re.sub(r"[^a-z0-9]+", "-", (header.include + " " + title).lower()).strip("-")


def write_html(headers, path, version):
    all_names = [n for g in groups(headers) for n in g.names]
    all_names += [t.names[0] for h in headers for t in h.types if t.names[0] not in all_names]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>csock {version} reference</title>", f"<style>\n{CSS}\n</style>", "</head>",
           "<body>", f"<h1>csock {version} reference</h1>",
           "<p>Every public function of csock, from the comments in its headers, which this page "
           "is made from. The man pages (<code>man 3 csock_socket</code>) say the same. "
           'See also <a href="README.md">README.md</a> and '
           '<a href="docs/design.md">docs/design.md</a>.</p>', "<nav><ul>"]
    for header in headers:
        out.append(f'<li><a href="#{section_id(header, "")}">&lt;{header.include}&gt;</a>: '
                   + ", ".join(f'<a href="#{section_id(header, t)}">{html.escape(t)}</a>'
                               for t, _ in header.sections) + "</li>")
    out.append("</ul></nav>")
    for header in headers:
        out.append(f'<h2 id="{section_id(header, "")}">&lt;{header.include}&gt;</h2>')
        out += html_blocks(blocks(header.intro), all_names)
        for title, entries in header.sections:
            out.append(f'<h3 id="{section_id(header, title)}">{html.escape(title)}</h3>')
            for entry in entries:
                if isinstance(entry, Group):
                    out += html_group(entry, all_names)
                elif entry.kind == "comment":
                    out += html_blocks(blocks(entry.text), all_names)
                else:
                    out += html_blocks(blocks(entry.comment), all_names)
                    anchor = f' id="{entry.name}"' if entry.name in all_names else ""
                    out.append(f"<pre{anchor}>{html.escape(entry.text)}</pre>")
    out += ["</body>", "</html>"]
    write_if_changed(path, "\n".join(out) + "\n")


def html_group(group, all_names):
    out = ["<h4>" + ", ".join(f'<span id="{n}">{n}</span>' for n in group.names) + "</h4>"]
    decls = "\n".join(d.text for d in group.decls)
    out.append(f"<pre>{html.escape(decls)}</pre>")
    desc, returns = split_returns(group.comment)
    out += html_blocks(desc, all_names)
    for para in returns:
        out.append(f'<p class="returns">{html_text(para, all_names)}</p>')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("include_dir")
    ap.add_argument("--man")
    ap.add_argument("--html")
    ap.add_argument("--docdir", default="")
    ap.add_argument("--stamp")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--leave-out", action="append", default=[], metavar="HEADER",
                    help="a header of a part not built (csock/tls.h): no pages for it")
    args = ap.parse_args()
    headers = headers_under(args.include_dir, args.leave_out)
    missing = [(h, d) for h in headers for d in h.undocumented]
    for header, decl in missing:
        print(f"include/{header.include}:{decl.line}: {decl.name} has no doc comment above its "
              "declaration (and so no reference page)", file=sys.stderr)
    if args.check:
        for header in headers:
            for group in groups([header]):
                print(f"include/{header.include}: {' '.join(group.names)}")
        return 1 if missing else 0
    version = version_of(headers)
    date = ""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        import time
        date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
    if args.man:
        count = write_man(headers, args.man, version, date, args.docdir)
        print(f"mkref: {count} man pages in {os.path.join(args.man, 'man3')}")
    if args.html:
        os.makedirs(os.path.dirname(os.path.abspath(args.html)), exist_ok=True)
        write_html(headers, args.html, version)
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("")
    return 0


if __name__ == "__main__":
    sys.exit(main())
