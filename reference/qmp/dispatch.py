"""qmp_dispatch(): one parsed request in, one response (or none) out.

The checks run in QEMU 7.2's order; where QEMU walks the request's members
it does so in QDict order, which decides the error that wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference.block.errors import NotModelled as BlockNotModelled
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qmp.commands import HANDLERS, RAW_HANDLERS, CommandError, Quit
from reference.qobject.values import QDict, QObject

if TYPE_CHECKING:
    from reference.qmp.monitor import QmpConnection

NEGOTIATION_COMMANDS = frozenset({"qmp_capabilities"})


@dataclass(frozen=True)
class Response:
    """The reply (None: no reply), replies QEMU might send instead, and whether it quits."""

    body: QDict | None
    alternatives: tuple[QDict, ...] = ()
    quit: bool = False


@dataclass(frozen=True)
class Abstain:
    reason: str


def error_response(error_class: str, desc: str) -> QDict:
    return QDict({"error": QDict({"class": error_class, "desc": desc})})


def _check_members(request: QDict, allow_oob: bool) -> str:
    """Return the command key ('execute' or 'exec-oob'); raise on a bad member."""
    # The usual request (execute, maybe arguments and id, nothing else) cannot fail
    # here, so it needs no walk in QEMU's member order.
    if type(request.get("execute")) is str:
        arguments = request.get("arguments")
        expected = 1 + (arguments is not None) + ("id" in request)
        if expected == len(request) and (arguments is None or isinstance(arguments, QDict)):
            return "execute"
    exec_key = ""
    for key, value in request.items():
        if key == "execute" or (key == "exec-oob" and allow_oob):
            if not isinstance(value, str):
                raise CommandError("GenericError", f"QMP input member '{key}' must be a string")
            if exec_key:
                raise CommandError("GenericError", f"QMP input member '{key}' clashes with '{exec_key}'")
            exec_key = key
        elif key == "arguments":
            if not isinstance(value, QDict):
                raise CommandError("GenericError", "QMP input member 'arguments' must be an object")
        elif key != "id":
            raise CommandError("GenericError", f"QMP input member '{key}' is unexpected")
    if not exec_key:
        raise CommandError("GenericError", "QMP input lacks member 'execute'")
    return exec_key


def _with_id(body: QDict, request_id: QObject | None) -> QDict:
    if request_id is not None:
        body.put("id", request_id)
    return body


def dispatch(conn: QmpConnection, request: QObject) -> Response | Abstain:
    if not isinstance(request, QDict):
        return Response(error_response("GenericError", "QMP input must be a JSON object"))
    request_id = request.get("id")
    try:
        outcome = _run(conn, request)
    except CommandError as err:
        return Response(_with_id(error_response(err.error_class, err.desc), request_id))
    except VisitError as err:
        first, *others = (
            _with_id(error_response("GenericError", msg), request_id) for msg in sorted(err.messages)
        )
        return Response(first, tuple(others))
    if isinstance(outcome, Abstain):
        return outcome
    value, quitting = outcome
    return Response(_with_id(QDict({"return": value}), request_id), quit=quitting)


def _run(conn: QmpConnection, request: QDict) -> tuple[QObject, bool] | Abstain:
    process = conn.process
    exec_key = _check_members(request, conn.oob_enabled)
    command = request.get(exec_key)
    assert isinstance(command, str)
    table = process.schema.commands if conn.negotiated else NEGOTIATION_COMMANDS
    info = process.schema.commands.get(command)
    if info is None or command not in table:
        raise CommandError("CommandNotFound", f"The command {command} has not been found")
    if command in process.disabled:
        reason = process.disabled[command]
        message = process.profile.disabled_command_message.format(
            command=command, sep=": " if reason else "", reason=reason or ""
        )
        raise CommandError(process.profile.disabled_command_class, message)
    if exec_key == "exec-oob" and not info.allow_oob:
        raise CommandError("GenericError", f"The command {command} does not support OOB")
    arguments = request.get("arguments")
    args = arguments if isinstance(arguments, QDict) else QDict()
    if command in process.profile.unvisited_commands:
        handler = RAW_HANDLERS.get(command)  # it checks what it reads itself, abstaining otherwise
        if handler is None or not isinstance(arguments, QDict):
            return Abstain(f"{command}: its handler reads the raw arguments, without the visitor")
    else:
        try:
            InputVisitor(process.schema, process.profile).check_arguments(info.arg_type, args)
        except VisitAbstains as why:
            return Abstain(f"{command}: {why.reason}")
        handler = HANDLERS.get(command)
    if handler is None:
        return Abstain(f"{command} is not modelled")
    try:
        result = handler(conn, args)
    except BlockNotModelled as why:
        return Abstain(f"{command}: {why.reason}")
    if isinstance(result, Quit):
        return QDict(), True
    return (QDict() if result is None else result), False
