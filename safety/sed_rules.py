"""``sed``: read-only when its script only prints, an edit with ``-i``, neither when the script can run
commands (``e``, ``s///e``) or write files (``w``, ``W``, ``s///w``), or comes from a file (``-f``)."""

from safety.argv import Arg, Call, canonical_option

_SIMPLE = frozenset("dDgGhHnNpPxz=Fv")
_LONG = (
    "--in-place --expression --file --follow-symlinks --line-length --null-data --zero-terminated --quiet "
    "--silent --regexp-extended --separate --sandbox --unbuffered --posix --debug"
).split()


def sed(call: Call) -> None:
    in_place, scripts, operands = False, list[Arg](), list[Arg]()
    args = call.args
    index = 0
    while index < len(args):
        arg, text = args[index], args[index].text
        if text == "--":
            operands += args[index + 1 :]
            break
        if text.startswith("--"):
            name, equals, value = text.partition("=")
            name = canonical_option(name, _LONG)
            if name == "--in-place":
                in_place = True
            elif name in ("--expression", "--file", "--line-length"):
                if not equals and index + 1 < len(args):
                    index += 1
                    value = args[index].text
                if name == "--expression":
                    scripts.append(Arg(value, arg.unknown))
                elif name == "--file":
                    call.other("sed -f runs a script file that cannot be checked")
        elif text.startswith("-") and len(text) > 1 and not arg.unknown:
            index, in_place = _short_options(call, args, index, scripts, in_place)
        else:
            operands.append(arg)
        index += 1
    if not scripts and operands:
        scripts.append(operands.pop(0))
    for script in scripts:
        if script.unknown or not sed_script_is_safe(script.text):
            call.other(
                "the sed script may run commands or write files (e, w, W); only plain editing is allowed"
            )
    if in_place:
        call.edit(operands)


def _short_options(
    call: Call, args: list[Arg], index: int, scripts: list[Arg], in_place: bool
) -> tuple[int, bool]:
    """One cluster like ``-ne``, ``-i.bak`` or ``-Ei``; returns the index of its last argument."""
    text = args[index].text
    for position, letter in enumerate(text[1:], start=2):
        if letter == "i":
            return index, True  # the rest of the cluster is a backup suffix (-i.bak)
        if letter in "efl":
            value = Arg(text[position:]) if position < len(text) else None
            if value is None and index + 1 < len(args):
                index += 1
                value = args[index]
            if letter == "e" and value is not None:
                scripts.append(value)
            elif letter == "f":
                call.other("sed -f runs a script file that cannot be checked")
            break
    return index, in_place


def sed_script_is_safe(script: str) -> bool:
    """Whether a sed script only edits text: no ``e`` (run a command), no ``w``/``W`` (write a file).

    Parsed the way GNU sed reads it: addresses, ``s`` and ``y`` with any delimiter, text arguments of
    ``a``/``i``/``c``/``r``/``R`` to the end of the line, labels. Anything unrecognised is unsafe.
    """
    index, size = 0, len(script)
    while index < size:
        char = script[index]
        if char in " \t\n;}{!IM" or char.isdigit() or char in "$,~+":
            index += 1
        elif char == "#":
            index = _line_end(script, index)
        elif char == "/":
            index = _past_delimiter(script, index + 1, "/")
        elif char == "\\":
            index = _past_delimiter(script, index + 2, script[index + 1 : index + 2])
        elif char in "sy":
            delimiter = script[index + 1 : index + 2]
            if delimiter in ("", "\n", "\\"):
                return False
            index = _past_delimiter(script, _past_delimiter(script, index + 2, delimiter), delimiter)
            end = index
            while end < size and script[end] in "gpiImMe0123456789w":
                end += 1
            if char == "s" and set(script[index:end]) & {"e", "w"}:
                return False
            index = end
        elif char in "aicrR":
            index = _line_end(script, index)
        elif char in ":btTlLqQ":
            index = _label_end(script, index + 1)
        elif char in _SIMPLE:
            index += 1
        else:
            return False  # e, w, W and anything unknown
    return True


def _past_delimiter(script: str, index: int, delimiter: str) -> int:
    """Index just past the next unescaped ``delimiter`` (the end of a regex or a replacement)."""
    while index < len(script) and script[index] != delimiter:
        index += 2 if script[index] == "\\" else 1
    return index + 1


def _line_end(script: str, index: int) -> int:
    end = script.find("\n", index)
    return len(script) if end < 0 else end


def _label_end(script: str, index: int) -> int:
    while index < len(script) and script[index] not in ";\n":
        index += 1
    return index
