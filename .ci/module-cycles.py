#!/usr/bin/env python3
"""Fails when two modules of src/ depend on each other (directly or through others).

A module is a top-level room (`src/send/`, `src/results/`, `src/cli.rs`, ...), or a file inside
a folder for the sibling check. A dependency is a `crate::NAME` (or, between siblings,
`super::NAME`) path in the file's code, comments and doc comments left out.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"


def code(path):
    text = path.read_text()
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def room(path):
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    rooms = {}
    siblings = {}
    for path in SRC.rglob("*.rs"):
        if path.name in ("lib.rs", "main.rs"):
            continue
        text = code(path)
        me = room(path)
        for name in re.findall(r"crate::([a-z_]+)", text):
            if name != me:
                rooms.setdefault(me, set()).add(name)
        rel = path.relative_to(SRC)
        if len(rel.parts) >= 2:
            folder = path.parent if path.name != "mod.rs" else path.parent
            name = path.stem if path.name != "mod.rs" else "mod"
            for other in re.findall(r"super::([a-z_]+)", text):
                if path.name == "mod.rs":
                    continue
                siblings.setdefault(str(folder.relative_to(SRC)), {}).setdefault(name, set()).add(other)
    bad = cycles(rooms)
    for folder, graph in siblings.items():
        bad += [[f"{folder}/{m}" for m in c] for c in cycles(graph)]
    if bad:
        for c in bad:
            print("module cycle:", " <-> ".join(c))
        sys.exit(1)
    print(f"module-cycles: no cycle among {len(rooms)} rooms of src/")


main()
