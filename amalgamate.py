#!/usr/bin/env python3
"""amalgamate.py - build dist/hsafe.h, the single-file form of hsafe.

    python3 amalgamate.py            write dist/hsafe.h
    python3 amalgamate.py --check    fail if dist/hsafe.h differs from what
                                     the sources give (CI runs this)
    python3 amalgamate.py -o FILE    write FILE instead

It starts from hsafe.h, the front door, which lists the parts of hsafe
(core/, api/, backends/, cpu/, os/, tasks/) in order, and replaces every
line `#include "x"` by that file's text, framed by
    /* ---- begin x ---- */ ... /* ---- end x ---- */
Each part is inlined exactly once: it guards its own declaration and
implementation halves, so one copy serves every inclusion.

Besides writing the file it checks the layout, and fails when:
  - a part is included twice, or a part includes another part (only
    hsafe.h lists parts);
  - a file other than core/target.h tests an architecture, OS, libc or CET
    macro (__x86_64__, _WIN32, __linux__, __GLIBC__, __CET__, ...) in a
    preprocessor condition: everything else tests the HSAFE__* flags that
    core/target.h derives from them.

The output is deterministic (no dates, no paths outside the project, \\n line
endings). The tool fails if a quoted include names a file that does not
exist, if a quoted include survives in the output, or if the output holds a
tab or a non-ASCII byte.

--allow-missing is for work in progress only: a quoted include of a missing
file becomes an #error naming it, and the header says the file is
incomplete. Never commit its output.

Python 3 standard library only.
"""
import argparse
import difflib
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
TOP = "hsafe.h"
DEFAULT_OUT = os.path.join("dist", "hsafe.h")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
MAX_DEPTH = 8
SELECTOR = "core/target.h"
# Macros only the target selector may test. Feature macros of one
# architecture (__riscv_flen, __thumb__, __AVX512F__, _CALL_ELF) may be
# tested in that architecture's own files.
TARGET_MACROS = re.compile(
    r"\b(__x86_64__|__amd64__|__aarch64__|__riscv|__arm__|__i386__|__powerpc64__|__s390x__|"
    r"_WIN32|_WIN64|__CYGWIN__|__MINGW32__|__MINGW64__|__linux__|__APPLE__|__FreeBSD__|"
    r"__NetBSD__|__OpenBSD__|__GLIBC__|__GLIBC_MINOR__|__ELF__|__CET__|__EMSCRIPTEN__|"
    r"__wasm__|__hermit__)\b")
CONDITION_RE = re.compile(r"^\s*#\s*(if|elif|ifdef|ifndef)\b(.*)$")


class AmalgamateError(Exception):
    pass


def read_source(rel):
    path = os.path.join(ROOT, rel)
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise AmalgamateError("%s:%d: non-ASCII byte" % (rel, line))
    text = text.replace("\r\n", "\n")
    for n, line in enumerate(text.split("\n"), 1):
        if "\t" in line:
            raise AmalgamateError("%s:%d: tab character" % (rel, n))
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def resolve(name, including_rel):
    """Project-relative path of a quoted include, or None if absent.
    Looked up like a compiler would: next to the including file, then at
    the project root."""
    for base in (os.path.dirname(including_rel), ""):
        rel = os.path.normpath(os.path.join(base, name)).replace(os.sep, "/")
        if rel.startswith("../"):
            continue
        if os.path.isfile(os.path.join(ROOT, rel)):
            return rel
    return None


def expand(rel, state, depth, stack):
    if depth > MAX_DEPTH:
        raise AmalgamateError("includes nested too deeply: %s" % " -> ".join(stack))
    out = []
    for n, line in enumerate(read_source(rel).split("\n")[:-1], 1):
        m = INCLUDE_RE.match(line)
        if not m:
            out.append(line)
            continue
        name = m.group(1)
        target = resolve(name, rel)
        if target is None:
            if not state["allow_missing"]:
                raise AmalgamateError('%s:%d: #include "%s": no such file in the project' % (rel, n, name))
            if name not in state["missing"]:
                state["missing"].append(name)
            out.append("/* ---- missing %s (amalgamate.py --allow-missing) ---- */" % name)
            out.append('#  error "hsafe: this dist/hsafe.h was generated without %s"' % name)
            continue
        if target in stack:
            raise AmalgamateError("include cycle: %s" % " -> ".join(stack + [target]))
        if rel != TOP:
            raise AmalgamateError('%s:%d: #include "%s": only %s includes parts' % (rel, n, name, TOP))
        if target in state["order"]:
            raise AmalgamateError('%s:%d: #include "%s": the part is already included' % (rel, n, name))
        state["order"].append(target)
        check_layout(target)
        out.append("/* ---- begin %s ---- */" % target)
        out.extend(expand(target, state, depth + 1, stack + [target]))
        out.append("/* ---- end %s ---- */" % target)
    return out


def check_layout(rel):
    """A part other than the selector tests no target macro."""
    if rel == SELECTOR:
        return
    for n, line in enumerate(read_source(rel).split("\n"), 1):
        m = CONDITION_RE.match(line)
        if m and TARGET_MACROS.search(m.group(2)):
            raise AmalgamateError("%s:%d: tests %s; only %s reads target macros (use its HSAFE__* flags)"
                                  % (rel, n, TARGET_MACROS.search(m.group(2)).group(1), SELECTOR))


def header_comment(state):
    lines = ["/* dist/hsafe.h: GENERATED by amalgamate.py. Do not edit: edit the sources",
             " * and run `python3 amalgamate.py`. Sources, in order of first inclusion:"]
    lines += [" *   " + rel for rel in [TOP] + state["order"]]
    if state["missing"]:
        lines.append(" * INCOMPLETE (--allow-missing), missing:")
        lines += [" *   " + rel for rel in state["missing"]]
    lines.append(" */")
    return lines


def amalgamate(allow_missing=False):
    state = {"order": [], "missing": [], "allow_missing": allow_missing}
    body = expand(TOP, state, 0, [TOP])
    text = "\n".join(header_comment(state) + body) + "\n"
    for n, line in enumerate(text.split("\n"), 1):
        if INCLUDE_RE.match(line):
            raise AmalgamateError("output line %d: a quoted include survived: %s" % (n, line.strip()))
        if "\t" in line:
            raise AmalgamateError("output line %d: tab character" % n)
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        raise AmalgamateError("output holds a non-ASCII character")
    return text


def main(argv):
    ap = argparse.ArgumentParser(description="Build dist/hsafe.h from hsafe.h and its parts.")
    ap.add_argument("--check", action="store_true",
                    help="regenerate to a temporary file and fail if dist/hsafe.h differs")
    ap.add_argument("-o", "--output", default=DEFAULT_OUT,
                    help="output file (default dist/hsafe.h, relative to the project root)")
    ap.add_argument("--allow-missing", action="store_true",
                    help="work in progress only: turn includes of missing files into #error")
    args = ap.parse_args(argv)
    out_path = os.path.join(ROOT, args.output)

    try:
        text = amalgamate(args.allow_missing)
    except (AmalgamateError, OSError) as e:
        sys.stderr.write("amalgamate.py: error: %s\n" % e)
        return 1

    if args.check:
        try:
            with open(out_path, "rb") as f:
                current = f.read().decode("ascii", "replace")
        except OSError:
            current = None
        # Also write the fresh text to a temporary file, so it can be looked at.
        fd, tmp = tempfile.mkstemp(prefix="hsafe-amalgamation.", suffix=".h")
        with os.fdopen(fd, "w", newline="\n") as f:
            f.write(text)
        if current == text:
            os.unlink(tmp)
            print("amalgamate.py: %s is up to date" % args.output)
            return 0
        if current is None:
            sys.stderr.write("amalgamate.py: %s does not exist: run python3 amalgamate.py\n" % args.output)
        else:
            diff = list(difflib.unified_diff(current.split("\n"), text.split("\n"),
                                             args.output + " (committed)",
                                             args.output + " (from the sources)", lineterm="", n=2))
            for line in diff[:60]:
                sys.stderr.write(line + "\n")
            if len(diff) > 60:
                sys.stderr.write("... (%d more diff lines; fresh output in %s)\n" % (len(diff) - 60, tmp))
            sys.stderr.write("amalgamate.py: %s is stale: run python3 amalgamate.py\n" % args.output)
        if current is None or len(diff) <= 60:
            os.unlink(tmp)
        return 1

    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w", newline="\n") as f:
        f.write(text)
    os.replace(tmp, out_path)
    print("amalgamate.py: wrote %s (%d lines)" % (args.output, text.count("\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
