"""Nothing from a stranger runs on the builder (issue 17, Deliver 1): every place the package
runs an external program is found by reading its source, and each program is on an allow-list
that says why it never reads configuration from a folder a blueprint (or an archive, or a
server) controls. Adding a program run without listing it here fails this test.

``git`` is the example that is not on the list: ``git -C <blueprint folder>`` reads that
folder's ``.git/config``, and ``core.fsmonitor`` there is a shell command.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "generator"
TOOLS = PACKAGE / "tools.py"

#: Program -> why it is safe to run on a hostile folder or input. None of them is started with
#: a working directory (``cwd=``) chosen for it, none is given a folder by ``-C``, and none
#: reads a config file from its working directory (which is the user's, and may be a
#: stranger's blueprint folder: ``cd bp && gns3lab build .``).
ALLOWED = {
    "qemu-img": "reads only the image files on its command line (overlays in our staging "
                "folder, base images the appliance names, checked by size and md5 first; "
                "backing files are named explicitly with -F/-b, -u); no config file",
    "ssh-keygen": "writes a new key into a temp folder of the output's keys/; key generation "
                  "reads no ssh_config and nothing of the blueprint",
    "dot": "reads the DOT text we render on stdin; Graphviz reads only its own install's "
           "config (plugins), never the cwd's",
    "mke2fs": "images build: formats a raw file in our build folder; reads /etc/mke2fs.conf "
              "(the host's), nothing of a blueprint",
    "dumpe2fs": "images build: reads the file system we just made",
    "debugfs": "images build: a script we write, on the file system we made",
    "mkfs.fat": "images build: formats our own raw file",
    "mcopy": "images build: copies our own files into our image; reads /etc/mtools.conf and "
             "~/.mtoolsrc (the builder's own), never the working directory's",
    "syslinux": "images build: installs the boot loader into our own image",
    "unshare": "images build: tools.contained() wraps a program in new PID and mount "
               "namespaces (so a killed build leaves no process or mount); reads no config",
    "mmdebstrap": "images build and build (image: <recipe>): builds a recipe in a temp root "
                  "it creates, in its own PID and mount namespaces; a blueprint's own recipe "
                  "reaches it only as Debian package names (apt installs them from Debian's "
                  "archive) and files copied in through chroot after the packages; its "
                  "commands and foreign sources need --trust-recipe-commands",
}

#: Python modules that start programs themselves, file -> why.
LIBRARIES = {
    "guestfs": ("generator/write/inject_session.py",
                "libguestfs launches its own appliance (QEMU) on our overlays; files go in "
                "through its API, nothing is read from a blueprint folder but the checked, "
                "confined files the model names"),
}

#: Names (modules and attributes) that start a process without going through tools.py.
RAW = {"subprocess", "sh", "pty", "os.system", "os.popen", "os.fork", "os.forkpty",
       "os.execv", "os.execve", "os.execvp", "os.execvpe", "os.execl", "os.execlp",
       "os.execle", "os.execlpe", "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnl",
       "os.spawnlp", "os.posix_spawn", "os.posix_spawnp", "asyncio.create_subprocess_exec",
       "asyncio.create_subprocess_shell", "multiprocessing"}


@functools.cache  # four tests read them; the package does not change during the run
def sources() -> dict[Path, ast.Module]:
    """Every module of the package, parsed (the tests only read the trees)."""
    return {p: ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def dotted(node: ast.AST) -> str:
    """``a.b.c`` of a Name/Attribute chain ('' otherwise)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def raw_uses(tree: ast.Module) -> set[str]:
    """The process-starting modules imported and functions referenced in ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in RAW}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in RAW:
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if f"{node.module}.{a.name}" in RAW}
        elif isinstance(node, ast.Attribute) and dotted(node) in RAW:
            found.add(dotted(node))
    return found


#: Calls that start a process directly (tools.py's own building blocks).
DIRECT = ("subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_",
          "sh.Command", "os.exec", "os.spawn", "os.posix_spawn", "os.system", "os.popen")


def runners(tree: ast.Module) -> set[str]:
    """Public functions of tools.py that start a program: those that use a direct starter,
    and (transitively) those that call one."""
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    calls = {name: {dotted(c.func) for c in ast.walk(f) if isinstance(c, ast.Call)}
             for name, f in funcs.items()}
    running = {name for name, f in funcs.items()
               if any(dotted(n).startswith(DIRECT) for n in ast.walk(f))}
    grew = True
    while grew:
        more = {name for name in funcs if calls[name] & running} - running
        running |= more
        grew = bool(more)
    return {name for name in running if not name.startswith("_")}


#: tools.py's public runners -> the program each runs ("argv" = its first argument's first item).
RUNNERS = {"run": "argv", "qemu_img": "qemu-img", "image_info": "qemu-img"}


def program_of(call: ast.Call, func: ast.AST | None) -> str:
    """The program a ``tools.run(argv, ...)`` call starts: argv's first item, as a literal or
    through a list assigned to the name in the same function."""
    argv = call.args[0] if call.args else None
    if isinstance(argv, ast.Call) and dotted(argv.func) == "tools.contained" and argv.args:
        argv = argv.args[0]  # unshare ... -- argv (checked in test_contained_is_unshare)
    if isinstance(argv, ast.Name) and func is not None:
        name = argv.id
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                argv = node.value
    if isinstance(argv, ast.List) and argv.elts and isinstance(argv.elts[0], ast.Constant):
        return str(argv.elts[0].value)
    return f"<not a literal at line {call.lineno}>"


def call_sites() -> list[tuple[str, int, str, ast.Call]]:
    """(file, line, program, call) for every call of a tools.py runner outside tools.py."""
    found = []
    for path, tree in sources().items():
        if path == TOOLS:
            continue
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = dotted(node.func)
            if not (name.startswith("tools.") and name[6:] in RUNNERS):
                continue
            func = node
            while func in parents and not isinstance(func, ast.FunctionDef):
                func = parents[func]
            program = RUNNERS[name[6:]]
            if program == "argv":
                program = program_of(node, func)
            found.append((str(path.relative_to(REPO)), node.lineno, program, node))
    return found


def test_only_tools_py_starts_processes() -> None:
    """subprocess, sh, os.exec*/spawn/system, pty, asyncio subprocesses: tools.py alone."""
    offenders = {str(p.relative_to(REPO)): sorted(uses) for p, tree in sources().items()
                 if p != TOOLS and (uses := raw_uses(tree))}
    assert offenders == {}, offenders


def test_every_runner_of_tools_py_is_known() -> None:
    """A new public function in tools.py that runs a program must be added to RUNNERS (and
    its program to ALLOWED)."""
    assert runners(sources()[TOOLS]) == set(RUNNERS)


def test_every_program_run_is_on_the_allow_list() -> None:
    """Each tools.run / tools.qemu_img / tools.image_info call names a program of ALLOWED,
    and none runs in a chosen working directory (``cwd=``)."""
    sites = call_sites()
    assert len(sites) >= 10, sites  # the scan sees the calls it is meant to see
    unknown = [(f, line, prog) for f, line, prog, _ in sites if prog not in ALLOWED]
    assert unknown == [], f"add each to ALLOWED with why it is safe: {unknown}"
    with_cwd = [(f, line) for f, line, _, call in sites
                if any(k.arg == "cwd" for k in call.keywords)]
    assert with_cwd == [], with_cwd
    assert "git" not in {prog for _, _, prog, _ in sites}


def test_libraries_that_start_programs_are_listed() -> None:
    """A module that imports a library known to start programs is the one listed for it."""
    for module, (where, _) in LIBRARIES.items():
        importers = {str(p.relative_to(REPO)) for p, tree in sources().items()
                     if any(isinstance(n, ast.Import) and module in {a.name for a in n.names}
                            for n in ast.walk(tree))}
        assert importers == {where}, (module, importers)


def test_contained_is_unshare() -> None:
    """tools.contained() only prefixes unshare (on ALLOWED) to the program it is given."""
    from generator import tools

    argv = tools.contained(["mmdebstrap", "x"])
    assert argv[0] == "unshare" and argv[-3:] == ["--", "mmdebstrap", "x"]


def test_the_scan_finds_a_program_run() -> None:
    """The scanner itself: an unlisted program in a snippet is reported."""
    tree = ast.parse("from generator import tools\n"
                     "def f(folder):\n"
                     "    argv = ['git', '-C', folder, 'check-ignore']\n"
                     "    tools.run(argv)\n"
                     "    tools.run(['dot', '-Tsvg'], cwd=folder)\n")
    func = tree.body[1]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and dotted(n.func) == "tools.run"]
    assert [program_of(c, func) for c in calls] == ["git", "dot"]
    assert raw_uses(ast.parse("import subprocess\nos.system('x')\n")) == {"subprocess",
                                                                         "os.system"}
