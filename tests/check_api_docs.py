#!/usr/bin/env python3
"""Every public function of hsafe.h is documented where it is declared.

The public API section of hsafe.h (from its start to the ">>hsafe:inline"
marker) must give each function named hsafe_* (not hsafe__*) a comment
directly above its declaration; a run of declarations right under one
comment (hsafe_stack_base/size/high_water) shares it. Prints one line per
function, "ok" or "MISSING", and exits 1 if any is missing or if none was
found. Usage: check_api_docs.py [path/to/hsafe.h]
"""
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "hsafe.h"
lines = open(path, encoding="ascii").read().split("\n")
end = next(i for i, l in enumerate(lines) if ">>hsafe:inline" in l)
decl = re.compile(r"^(?:HSAFE_API|static inline)\b.*?\b(hsafe_[a-z][a-z0-9_]*)\s*\(")

seen, missing = [], []
for i in range(end):
    m = decl.match(lines[i])
    if not m or m.group(1) in seen:
        continue
    name = m.group(1)
    seen.append(name)
    j = i - 1
    while j >= 0 and decl.match(lines[j]):      # a group under one comment
        j -= 1
    ok = j >= 0 and lines[j].rstrip().endswith("*/")
    print(("ok       " if ok else "MISSING  ") + name)
    if not ok:
        missing.append(name)

if not seen:
    print("no public functions found: is the >>hsafe:inline marker gone?")
    sys.exit(1)
print("%d public functions, %d without a doc comment" % (len(seen), len(missing)))
sys.exit(1 if missing else 0)
