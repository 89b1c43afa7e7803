#!/usr/bin/env python3
"""Every public function of hsafe is documented where it is declared.

The public API is the api/*.h parts: for the split sources (hsafe.h) the
api/ files hsafe.h includes, for dist/hsafe.h the text between its
"---- begin api/..." and "---- end api/..." markers. Each function named
hsafe_* (not hsafe__*) declared there must have a comment directly above
its declaration; a run of declarations right under one comment
(hsafe_stack_base/size/high_water) shares it. Prints one line per
function, "ok" or "MISSING", and exits 1 if any is missing or if none was
found. Usage: check_api_docs.py [path/to/hsafe.h | path/to/dist/hsafe.h]
"""
import os
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "hsafe.h"
text = open(path, encoding="ascii").read()
sections = []                      # (name, lines)
if "/* ---- begin api/" in text:   # an amalgamation
    for m in re.finditer(r"/\* ---- begin (api/[^ ]+) ---- \*/\n(.*?)/\* ---- end \1 ---- \*/", text, re.S):
        sections.append((m.group(1), m.group(2).split("\n")))
else:                              # the front door: the api/ parts it lists
    root = os.path.dirname(os.path.abspath(path))
    for m in re.finditer(r'^\s*#\s*include\s*"(api/[^"]+)"', text, re.M):
        with open(os.path.join(root, m.group(1)), encoding="ascii") as f:
            sections.append((m.group(1), f.read().split("\n")))
decl = re.compile(r"^(?:HSAFE_API|static inline)\b.*?\b(hsafe_[a-z][a-z0-9_]*)\s*\(")

seen, missing = [], []
for name_of_part, lines in sections:
    for i, line in enumerate(lines):
        m = decl.match(line)
        if not m or m.group(1) in seen:
            continue
        name = m.group(1)
        seen.append(name)
        j = i - 1
        while j >= 0 and decl.match(lines[j]):      # a group under one comment
            j -= 1
        ok = j >= 0 and lines[j].rstrip().endswith("*/")
        print(("ok       " if ok else "MISSING  ") + name + "  (" + name_of_part + ")")
        if not ok:
            missing.append(name)

if not seen:
    print("no public functions found: no api/ parts in %s?" % path)
    sys.exit(1)
print("%d public functions, %d without a doc comment" % (len(seen), len(missing)))
sys.exit(1 if missing else 0)
