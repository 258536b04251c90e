"""What each program does, for the command safety check: read-only, editing, dangerous or networked.

``check(call)`` classifies one command line and reports through the ``Call`` (``safety.argv``):

- read-only: on the safe list with harmless options (``sort -o`` writes, ``rg --pre`` runs programs,
  ``find -exec`` runs commands, so those are not read-only);
- editing: changes only files inside the workspace (``sed -i``, ``mkdir``, ``touch``, ``cp``, ``mv``,
  ``rm`` of named files, ``patch``, ``tee``, ``git apply``, ``chmod``, ``truncate``, ``rmdir``);
- dangerous: refused under every policy but yolo (``rm -r`` outside the workspace, ``sudo``, ``mkfs``,
  ``git push``, ``kill -9 -1``, downloads run as code, ...);
- networked: needs ``safety.allow_network``.

Wrappers (``env``, ``timeout``, ``nice``, ``xargs``, ``command``, ``exec``, ...) are looked through, and
strings that are code for a shell (``bash -c``, ``eval``, ``env -S``, ``find -exec``, ``trap``) are
checked as commands themselves.
"""

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable

from safety.argv import EVALUATES, Arg, Call, locate, parse_options, prompt_assignment, words
from safety.git_rules import git
from safety.sed_rules import sed

SYSTEM_DIRECTORIES = words("/bin /usr/bin /usr/local/bin /sbin /usr/sbin /usr/local/sbin")
"""Where '/bin/ls' is trusted to be ls; './ls' or '/tmp/ls' may be anything."""
READ_ONLY = words(
    "ls cat head tail wc grep egrep fgrep pwd echo printf diff cmp stat cut tr basename dirname realpath "
    "readlink true false : test [ [[ which type whoami id uname nl tac rev seq sleep printenv du df md5sum "
    "sha1sum sha224sum sha256sum sha384sum sha512sum cksum b2sum jq column paste comm join fold expand "
    "unexpand od hexdump strings unset set shopt exit return shift wait read locale nproc tty groups "
    "pytest py.test"
)
"""Programs that only read and print, whatever their options (those with exceptions have a rule)."""
FETCHERS = words(
    "curl wget wget2 fetch aria2c http https xh lwp-request GET nc ncat netcat socat telnet ftp tftp lftp "
    "ssh openssl gh"
)
"""Programs whose output can be data from the network."""
NETWORK = FETCHERS | words("scp sftp mosh ping ping6 dig nslookup host traceroute tracepath whois hub glab")
_ANY = frozenset({"*"})
NETWORK_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "pip": words("install download wheel index search"),
    "uv": words("pip add sync lock tool run python"),
    "poetry": words("install add update lock publish self"),
    "npm": words("install i ci add update up upgrade publish exec x view"),
    "yarn": words("install add up upgrade dlx npm publish"),
    "pnpm": words("install i add update up dlx publish"),
    "bun": words("install i add x update upgrade"),
    "gem": words("install update fetch push"),
    "cargo": words("install fetch update publish search add"),
    "go": words("get install"),
    "docker": words("pull push login search"),
    "podman": words("pull push login search"),
    "conda": words("install create update search"),
    "mamba": words("install create update search"),
    **dict.fromkeys("pipx npx pnpx bunx apt apt-get yum dnf apk brew zypper pacman snap".split(), _ANY),
}
"""Package managers and the subcommands of theirs that download ("*": all of them)."""
SHELLS = words("sh bash zsh dash ksh mksh ash fish tcsh csh yash posh")
INTERPRETERS = words("perl ruby node nodejs php lua luajit Rscript tclsh deno pwsh osascript")
_CODE_FLAGS = words("-e -E -r --eval -p --print -x")
PRIVILEGE = words("sudo su doas pkexec run0 sudoedit")
DISK = words("mkfs mke2fs mkswap wipefs fdisk sfdisk cfdisk parted gdisk sgdisk blkdiscard")
POWER = words("shutdown reboot halt poweroff telinit killall5")
_SYSTEMCTL_POWER = words(
    "poweroff reboot halt kexec suspend hibernate hybrid-sleep emergency rescue isolate default"
)
_DECLARE = ("export", "declare", "typeset", "local", "readonly")
_ARITHMETIC_TESTS = words("-eq -ne -lt -le -gt -ge -v")
_NUMERIC_FORMAT = re.compile(r"%[-+ #0]*[0-9*]*(\.[0-9*]*)?[diouxXeEfFgGaAc]")
_NUMERIC_BUILTINS = words("shift exit return break continue ulimit wait history umask times getopts")
RISKY_VARIABLE = re.compile(
    r"LD_\w*|DYLD_\w*|PATH|BASH_ENV|ENV|IFS|PS4|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|HOME|PYTHON\w*|PERL5\w*"
    r"|PERLLIB|RUBY\w*|NODE_OPTIONS|NODE_PATH|GIT_\w*|PAGER|EDITOR|VISUAL"
)
"""Variables that change which program runs or what it loads (``LD_PRELOAD=./x.so ls`` runs x.so)."""


def check(call: Call) -> None:
    """Classify ``call`` (looking through wrappers) and record what it does."""
    while True:
        first = call.argv[0]
        if first.unknown or first.glob:
            call.danger(
                f"the program name '{first.text}' is only known at run time (a variable, $(...) or a glob "
                "pattern), so what runs cannot be checked; write the program name literally"
            )
            return
        if "/" in first.text and posixpath.dirname(posixpath.normpath(first.text)) not in SYSTEM_DIRECTORIES:
            call.other(
                f"'{first.text}' runs a program file, not one found on PATH or in a system directory "
                "(/bin, /usr/bin, ...)"
            )
        call.ran.add(call.name)
        wrapper = _WRAPPERS.get(call.name)
        if wrapper is None:
            break
        inner = wrapper(call)
        if not inner:
            return
        call.argv = inner
    name = call.name
    if name in call.checker.functions:
        return  # its body was checked where it was defined
    if name in NETWORK:
        call.network(f"'{name}' uses the network")
    rule = _RULES.get(name)
    if rule is not None:
        rule(call)
    elif name in NETWORK_SUBCOMMANDS:
        _package_manager(call, name, call.args)
    elif name in SHELLS:
        _shell(call)
    elif name in INTERPRETERS:
        _interpreter(call)
    elif name in PRIVILEGE:
        call.danger(f"'{name}' (running as another user, privilege escalation) is never allowed")
    elif name in DISK:
        call.danger(f"'{name}' formats, partitions or wipes disks; never allowed")
    elif name in POWER:
        call.danger(f"'{name}' stops or restarts the machine or every process; never allowed")
    elif name not in READ_ONLY:
        call.other(f"'{name}' is not on the read-only list")


# ---------------------------------------------------------------- wrappers


def _wrapped(short: str = "", long: Iterable[str] = (), skip: int = 0) -> Callable[[Call], list[Arg] | None]:
    """A wrapper with options (``short``/``long`` take values) and ``skip`` leading operands (timeout's
    duration) before the command it runs."""

    def unwrap(call: Call) -> list[Arg] | None:
        return parse_options(call.args, short=short, long=long, permute=False).operands[skip:] or None

    return unwrap


def _env(call: Call) -> list[Arg] | None:
    args = call.args
    index = 0
    while index < len(args):
        text = args[index].text
        following = args[index + 1] if index + 1 < len(args) else None
        if text in ("-u", "--unset"):
            index += 1
        elif text in ("-C", "--chdir") or text.startswith("--chdir="):
            call.cd(following if "=" not in text else Arg(text.partition("=")[2]))
            index += 1 if "=" not in text else 0
        elif text in ("-S", "--split-string") or text.startswith(("-S", "--split-string=")):
            inline = text.partition("=")[2] if text.startswith("--") else text[2:]
            string = inline or (following.text if following else "")
            rest = args[index + (1 if inline else 2) :]
            call.script(" ".join([string, *(shlex.quote(a.text) for a in rest)]))
            return None
        elif text == "--":
            return args[index + 1 :] or None
        elif "=" in text and not text.startswith("-"):
            _risky_assignment(call, text)
        elif not text.startswith("-"):
            break
        index += 1
    return args[index:] or None


def _command(call: Call) -> list[Arg] | None:
    options = parse_options(call.args, permute=False)
    return None if options.has("-v", "-V") else options.operands or None


def _time(call: Call) -> list[Arg] | None:
    options = parse_options(call.args, short="of", long=("--output", "--format"), permute=False)
    for target in options.values("-o", "--output"):
        call.write(target)
    return options.operands or None


def _xargs(call: Call) -> list[Arg] | None:
    valued = "--arg-file --delimiter --max-args --max-procs --max-chars --process-slot-var".split()
    options = parse_options(call.args, short="adEILnPs", long=valued, permute=False)
    call.from_input = True
    return options.operands or [Arg("echo")]


_WRAPPERS: dict[str, Callable[[Call], list[Arg] | None]] = {
    "env": _env,
    "command": _command,
    "time": _time,
    "xargs": _xargs,
    "builtin": _wrapped(),
    "nohup": _wrapped(),
    "setsid": _wrapped(),
    "busybox": _wrapped(),
    "coproc": _wrapped(),
    "exec": _wrapped("a"),
    "nice": _wrapped("n", ("--adjustment",)),
    "timeout": _wrapped("sk", ("--signal", "--kill-after"), skip=1),
    "stdbuf": _wrapped("ioe", ("--input", "--output", "--error")),
    "ionice": _wrapped("cnpPu", ("--class", "--classdata", "--pid", "--pgid", "--uid")),
}


# ---------------------------------------------------------------- deleting and changing files


def _unknown_arguments(call: Call) -> None:
    """An unquoted expansion may split into '-rf /'; two expansions may be '-r' and '/'."""
    unknown = [a for a in call.args if a.unknown]
    if any(a.split for a in unknown) or len(unknown) > 1:
        call.danger(
            f"{call.name} with arguments only known at run time ({', '.join(a.text for a in unknown)}) could "
            "delete or change anything; use literal paths"
        )


def _recursive_outside(call: Call, what: str, targets: list[Arg]) -> None:
    if call.from_input:
        call.danger(f"{what} of paths read from input (xargs) cannot be checked; use literal paths")
    for target in targets:
        inside, where = locate(target, call.checker.cwd_outside)
        if inside:
            call.checker.recursive_target(target)
        else:
            call.danger(
                f"{what} of '{target.text}' ({where}) is never allowed; only paths inside the workspace "
                "may be deleted or changed recursively"
            )


def _rm(call: Call) -> None:
    known = "--recursive --force --dir --interactive --one-file-system --no-preserve-root --preserve-root"
    options = parse_options(call.args, known=(*known.split(), "--verbose"))
    if options.has("--no-preserve-root"):
        call.danger("'rm --no-preserve-root' is never allowed")
    _unknown_arguments(call)
    if options.has("-r", "-R", "--recursive"):
        _recursive_outside(call, "rm -r", options.operands)
        call.other("rm -r deletes whole directories; only removing specific files counts as an edit")
    if any(target.glob for target in options.operands):
        call.other("rm with a pattern; only removing specific, named files counts as an edit")
    call.edit(options.operands)


_CHMOD_MODE = re.compile(r"-[rwxXst]+")


def _chmod(call: Call) -> None:
    """chmod, chown, chgrp: recursive changes outside the workspace (or of /) are dangerous."""
    args = list(call.args)
    mode = next((a for a in args if call.name == "chmod" and _CHMOD_MODE.fullmatch(a.text)), None)
    if mode is not None:
        args.remove(mode)  # 'chmod -x file': a mode, not an option
    known = "--recursive --changes --silent --quiet --verbose --no-preserve-root --preserve-root".split()
    options = parse_options(args, long=("--reference", "--from"), known=known)
    _unknown_arguments(call)
    files = options.operands[0 if mode is not None or options.has("--reference") else 1 :]
    if options.has("-R", "--recursive"):
        _recursive_outside(call, f"{call.name} -R", files)
    elif any(posixpath.normpath(target.text) in ("/", "//") for target in files):
        call.danger(f"{call.name} of the root directory is never allowed")
    if call.name == "chmod":
        call.edit(files)
    else:
        for target in files:
            call.write(target)


def _copy_like(call: Call) -> tuple[bool, list[Arg], list[Arg]]:
    """cp, mv, ln, install: (makes links, sources, destinations)."""
    valued = ("--target-directory", "--suffix", "--group", "--mode", "--owner")
    options = parse_options(call.args, short="tSgmo", long=valued, known=("--symbolic-link", "--link"))
    links = options.has("-s", "--symbolic-link", "-l", "--link")
    target = options.values("-t", "--target-directory")
    if target:
        return links, options.operands, target
    return links, options.operands[:-1], options.operands[-1:]


def _cp(call: Call) -> None:
    links, _, destinations = _copy_like(call)
    if links:
        call.other("cp -s/-l makes links instead of copies")
    call.edit(destinations)


def _mv(call: Call) -> None:
    _, sources, destinations = _copy_like(call)
    call.edit(sources + destinations)


def _link_or_install(call: Call) -> None:
    for target in _copy_like(call)[2]:
        call.write(target)


def _edits_operands(short: str = "", long: Iterable[str] = ()) -> Callable[[Call], None]:
    """mkdir, touch, rmdir, truncate, tee: every operand is a file the command changes."""

    def rule(call: Call) -> None:
        call.edit(parse_options(call.args, short=short, long=long).operands)

    return rule


def _patch(call: Call) -> None:
    valued = (
        "--prefix --ifdef --directory --fuzz --get --input --output --strip --reject-file --version-control "
        "--basename-prefix --suffix --quoting-style"
    ).split()
    options = parse_options(call.args, short="BDdFgioprVYz", long=valued, known=("--follow-symlinks",))
    if options.has("--follow-symlinks"):
        call.other("patch --follow-symlinks can write through links that leave the workspace")
    # GNU patch itself refuses file names in the patch that are absolute or climb out with '..'.
    call.edit(
        options.values("-d", "--directory", "-o", "--output", "-r", "--reject-file") + options.operands[:1]
    )


def _dd(call: Call) -> None:
    for arg in call.args:
        if arg.text.startswith("of="):
            call.write(Arg(arg.text[3:], arg.unknown, arg.fetched))
    call.other("'dd' copies raw data")


# ---------------------------------------------------------------- read-only, with exceptions


def _find(call: Call) -> None:
    args = call.args
    index = 0
    while index < len(args) and (
        args[index].text in ("-H", "-L", "-P", "-D") or re.fullmatch(r"-O\d", args[index].text)
    ):
        index += 2 if args[index].text == "-D" else 1
    starts: list[Arg] = []
    while index < len(args) and not args[index].text.startswith(("-", "(", "!", ")", ",")):
        starts.append(args[index])
        index += 1
    starts = starts or [Arg(".")]
    while index < len(args):
        text = args[index].text
        if text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            call.other(f"find {text} runs a command on every file found")
            command = args[index + 1 : end]
            for start in {s.text: s for s in starts}.values() if command else ():
                call.run([_placeholder(a, start) for a in command])  # {} is at most the start path
            index = end
        elif text == "-delete":
            call.other("find -delete deletes whatever matches; delete specific files with rm")
            _recursive_outside(call, "find -delete", starts)
        elif text in ("-fprint", "-fprint0", "-fls", "-fprintf") and index + 1 < len(args):
            index += 1
            call.edit([args[index]])
        index += 1


def _placeholder(arg: Arg, start: Arg) -> Arg:
    if "{}" not in arg.text:
        return arg
    return Arg(
        arg.text.replace("{}", start.text), arg.unknown or start.unknown, arg.fetched, start.split, start.glob
    )


def _sort(call: Call) -> None:
    valued = (
        "--output --key --field-separator --buffer-size --temporary-directory --compress-program "
        "--files0-from --parallel --batch-size --sort --random-source"
    ).split()
    options = parse_options(call.args, short="okStT", long=valued)
    if options.has("--compress-program"):
        call.other("sort --compress-program runs a program")
    outputs = options.values("-o", "--output")
    if outputs:
        call.edit(outputs)


def _uniq(call: Call) -> None:
    options = parse_options(call.args, short="fsw", long=("--skip-fields", "--skip-chars", "--check-chars"))
    if len(options.operands) > 1:
        call.edit(options.operands[1:2])


def _tree(call: Call) -> None:
    options = parse_options(call.args, short="oLPIH", long=("--filelimit", "--timefmt", "--charset"))
    if options.has("-R"):
        call.other("'tree -R' writes an output file in every directory")
    outputs = options.values("-o")
    if outputs:
        call.edit(outputs)


def _refused_flags(flags: tuple[str, ...], reason: str) -> Callable[[Call], None]:
    """A read-only program unless one of ``flags`` (alone or ``--flag=value``) is given."""

    def rule(call: Call) -> None:
        if any(a.text in flags or a.text.startswith(tuple(f + "=" for f in flags)) for a in call.args):
            call.other(reason)

    return rule


def _echo(call: Call) -> None:
    args = list(call.args)
    escapes = False
    while args and re.fullmatch(r"-[neE]+", args[0].text):
        escapes = escapes or "e" in args.pop(0).text
    text = " ".join(a.text for a in args)
    if not any(a.unknown for a in args) and not (escapes and "\\" in text):
        call.output = text + "\n"


def _cd(call: Call) -> None:
    operands = [a for a in call.args if not (a.text.startswith("-") and len(a.text) > 1)]
    call.cd(None if call.name == "popd" or not operands else operands[0])


def _risky_assignment(call: Call, text: str) -> None:
    name = text.split("=", 1)[0].removesuffix("+")
    if RISKY_VARIABLE.fullmatch(name):
        call.other(f"setting {name} changes which programs run or what they load")


def _declare(call: Call) -> None:
    for arg in call.args:
        if "=" in arg.text and not arg.text.startswith("-"):
            _risky_assignment(call, arg.text)
            prompt_assignment(call.checker, arg, call.depth)
    _names(call)


def _mapfile(call: Call) -> None:
    """mapfile -C CALLBACK runs CALLBACK as a command every -c lines."""
    options = parse_options(call.args, short="CcdnOsu", permute=False)
    for callback in options.values("-C"):
        call.script(callback.text)
    _names(call)


def _names(call: Call) -> None:
    """read, unset, declare and friends: names with subscripts, from expansions or declared -i/-n are
    evaluated, and so are numeric option values (read -n, mapfile -O)."""
    call.evaluated(arg for arg in call.args if arg.unknown)
    for arg in call.args:
        name = arg.text.split("=", 1)[0]
        if name.startswith("-"):
            if call.name in _DECLARE and set(name) & {"i", "n"}:  # every assignment is evaluated
                call.other(EVALUATES)
        elif "[" in name:
            call.other(EVALUATES)


def _conditional(call: Call) -> None:
    """[[ ]], test, [: -eq and friends evaluate their operands as arithmetic, -v its subscript."""
    if any(arg.text in _ARITHMETIC_TESTS for arg in call.args):
        call.other(EVALUATES)


def _printf(call: Call) -> None:
    args = call.args
    format_ = args[0] if args else Arg("")
    if format_.text.startswith("-v"):
        call.other(EVALUATES)
    elif format_.unknown or _NUMERIC_FORMAT.search(format_.text):
        call.evaluated(args)
    elif len(args) == 1 and not set(format_.text) & {"\\", "%"}:
        call.output = format_.text


def _kill(call: Call) -> None:
    texts = [a.text for a in call.args]
    pids: list[str] = []
    index = 0
    while index < len(texts):
        text = texts[index]
        if text == "--":
            pids += texts[index + 1 :]
            break
        if text in ("-s", "-n", "--signal"):
            index += 1
        elif not (text.startswith("-") and index == 0):  # a first '-9' or '-KILL' is the signal
            pids.append(text)
        index += 1
    if "-1" in pids:
        call.danger("'kill ... -1' signals every process of the user (this bot included); never allowed")
    call.other("'kill' stops processes")


def _init(call: Call) -> None:
    if call.name == "systemctl":
        verbs = [a.text for a in call.args if not a.text.startswith("-")]
        if verbs and verbs[0] in _SYSTEMCTL_POWER:
            call.danger(f"'systemctl {verbs[0]}' changes the machine's power state; never allowed")
    elif any(a.text in ("0", "1", "6", "S", "s") for a in call.args):
        call.danger("'init' with a runlevel stops or restarts the machine; never allowed")
    call.other(f"'{call.name}' manages system services")


def _crontab(call: Call) -> None:
    if [a.text for a in call.args] != ["-l"]:
        call.danger("'crontab' installs jobs that outlive this run; never allowed")


def _alias(call: Call) -> None:
    if any("=" in a.text for a in call.args):
        call.danger("'alias' redefines commands, so what runs afterwards cannot be checked")


# ---------------------------------------------------------------- interpreters


def _program_from_stdin(call: Call, *, shell: bool) -> None:
    """The interpreter reads its program from standard input."""
    stdin = call.stdin
    if stdin.fetched:
        call.danger(
            f"runs code downloaded from the network (a download piped into {call.name}); never allowed"
        )
    elif stdin.text is not None and shell:
        call.script(stdin.text)
        return
    elif stdin.piped and shell:
        call.danger(
            f"pipes text into {call.name} that cannot be checked (only literal echo text or a here-document "
            "can be); run the commands directly"
        )
    call.other(f"'{call.name}' runs a program read from its input")


def _downloaded_code(call: Call) -> None:
    if any(a.fetched for a in call.args):
        call.danger(f"runs code downloaded from the network ({call.name} with a download); never allowed")


def _shell(call: Call) -> None:
    _downloaded_code(call)
    args = call.args
    index, command, from_stdin = 0, False, False
    while index < len(args):
        text = args[index].text
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            index += 1
        elif text == "--":
            index += 1
            break
        elif len(text) > 1 and text[0] == "-" and text[1] != "-":
            command = command or "c" in text
            from_stdin = from_stdin or "s" in text
            if set(text) & {"i", "l"}:
                call.other(f"'{call.name} {text}' reads startup files, which can run anything")
        elif text in ("--login", "--interactive"):
            call.other(f"'{call.name} {text}' reads startup files, which can run anything")
        elif not (text.startswith("--") or (len(text) > 1 and text[0] == "+")):
            break
        index += 1
    operands = args[index:]
    if command:
        if operands:
            call.script(operands[0].text)
    elif operands and not from_stdin and operands[0].text != "-":
        call.other(f"'{call.name}' runs the script '{operands[0].text}'")
    else:
        _program_from_stdin(call, shell=True)


def _python(call: Call) -> None:
    _downloaded_code(call)
    args = call.args
    index = 0
    while index < len(args):
        text = args[index].text
        if text in ("--version", "-V", "-VV", "--help", "-h"):
            return
        if text.startswith(("-m", "-c")):
            attached = bool(text[2:])
            value = text[2:] or (args[index + 1].text if index + 1 < len(args) else "")
            if text.startswith("-c"):
                call.other("'python -c' runs arbitrary code")
            elif value == "pip":
                _package_manager(call, "pip", args[index + (1 if attached else 2) :])
            elif value != "pytest":
                call.other(f"'python -m {value}' is not on the read-only list")
            return
        if text in ("-W", "-X"):
            index += 1
        elif text == "-" or not text.startswith("-"):
            if text != "-":
                call.other(f"'python' runs the script '{text}'")
                return
            break
        index += 1
    _program_from_stdin(call, shell=False)


def _interpreter(call: Call) -> None:
    _downloaded_code(call)
    if not any(a.text in _CODE_FLAGS or not a.text.startswith("-") for a in call.args):
        _program_from_stdin(call, shell=False)
    call.other(f"'{call.name}' runs a program")


def _source(call: Call) -> None:
    _downloaded_code(call)
    call.other(f"'{call.name}' runs a script in the shell")


def _eval(call: Call) -> None:
    _downloaded_code(call)
    call.script(" ".join(a.text for a in call.args))


def _trap(call: Call) -> None:
    args = call.args
    if args and args[0].text not in ("-l", "-p", "-", "--", ""):
        call.script(args[0].text)


# ---------------------------------------------------------------- network


def _package_manager(call: Call, name: str, args: list[Arg]) -> None:
    subcommand = next((a.text for a in args if not a.text.startswith("-")), "")
    table = NETWORK_SUBCOMMANDS[name]
    if table is _ANY or subcommand in table:
        label = f"{name} {subcommand}".strip()
        call.network(f"'{label}' downloads from or talks to the network")
    call.other(f"'{name}' is not on the read-only list")


def _curl_wget(call: Call) -> None:
    if call.name == "curl":
        outputs = parse_options(call.args, short="oHdXAeEuUbcDKmrTwxyzY", long=("--output",)).values(
            "-o", "--output"
        )
    else:
        valued = ("--output-document", "--directory-prefix")
        options = parse_options(call.args, short="OPoaeUtTwQlAR", long=valued)
        outputs = options.values("-O", "--output-document", "-P", "--directory-prefix")
    for target in outputs:
        if target.text != "-":
            call.write(target)


def _rsync(call: Call) -> None:
    options = parse_options(call.args, short="eTBf", long=("--rsh", "--rsync-path", "--filter", "--exclude"))
    remote = options.has("-e", "--rsh") or any(
        "::" in a.text or a.text.startswith("rsync://") or re.match(r"[^/]*:", a.text)
        for a in options.operands
    )
    if remote:
        call.network("'rsync' to or from another host uses the network")
    for target in options.operands[-1:]:
        call.write(target)


_RULES: dict[str, Callable[[Call], None]] = {
    "rm": _rm,
    "chmod": _chmod,
    "chown": _chmod,
    "chgrp": _chmod,
    "cp": _cp,
    "mv": _mv,
    "ln": _link_or_install,
    "install": _link_or_install,
    "mkdir": _edits_operands("m", ("--mode", "--context")),
    "touch": _edits_operands("rdt", ("--reference", "--date")),
    "rmdir": _edits_operands(),
    "truncate": _edits_operands("sr", ("--size", "--reference")),
    "tee": _edits_operands(),
    "patch": _patch,
    "dd": _dd,
    "sed": sed,
    "find": _find,
    "sort": _sort,
    "uniq": _uniq,
    "tree": _tree,
    "rg": _refused_flags(("--pre",), "rg --pre runs a program on every file searched"),
    "date": _refused_flags(("-s", "--set"), "'date --set' changes the clock"),
    "file": _refused_flags(("-C", "--compile"), "'file -C' writes a magic file"),
    "echo": _echo,
    "printf": _printf,
    "cd": _cd,
    "pushd": _cd,
    "popd": _cd,
    **dict.fromkeys(_DECLARE, _declare),
    **dict.fromkeys(("read", "unset", "getopts"), _names),
    **dict.fromkeys(("mapfile", "readarray"), _mapfile),
    **dict.fromkeys(_NUMERIC_BUILTINS, lambda call: call.evaluated(call.args)),
    "let": lambda call: call.other(EVALUATES),
    "[[": _conditional,
    "[": _conditional,
    "test": _conditional,
    "kill": _kill,
    "init": _init,
    "systemctl": _init,
    "crontab": _crontab,
    "alias": _alias,
    "python": _python,
    "source": _source,
    ".": _source,
    "eval": _eval,
    "trap": _trap,
    "curl": _curl_wget,
    "wget": _curl_wget,
    "rsync": _rsync,
    "git": git,
}
