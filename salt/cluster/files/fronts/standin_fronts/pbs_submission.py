"""A qsub request, read as PBS reads it, and the sbatch request that stands for it.

PBS takes options from the command line and from `#PBS` lines at the top of the script
(the command line wins); resources come as `-l` lists. What Slurm has a field for goes
into that field, so that every later answer is read back from Slurm; what Slurm has no
field for (the qsub arguments and the variables PBS lists as Variable_List) travels in
the job's comment, which Slurm keeps with the job.
"""
import dataclasses
import getopt
import json
import os
import pwd
import re
import shlex

# Slurm refuses a longer job comment ("Pathname ... too long").
COMMENT_LIMIT = 1024
DIRECTIVE = "#PBS"
# Variables qsub copies from its own environment, in the order PBS lists them.
CALLER_VARIABLES = (("PBS_O_LANG", "LANG"), ("PBS_O_PATH", "PATH"), ("PBS_O_MAIL", "MAIL"))


class IllegalOption(Exception):
    """An option or value qsub refuses; `option` names it as PBS does ("l", "W")."""

    def __init__(self, option):
        super().__init__(option)
        self.option = option


@dataclasses.dataclass
class Request:
    """What a qsub call asks for, before it is sent to Slurm."""

    arguments: list
    script_path: str | None = None
    name: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    join: str = "n"
    queue: str | None = None
    account: str | None = None
    hold: bool = False
    rerunnable: bool = True
    chunks: int = 1
    ncpus: int = 1
    mpiprocs: int | None = None
    walltime: int | None = None
    exclusive: bool = False
    variables: list = dataclasses.field(default_factory=list)
    depend: str | None = None
    print_id: bool = True


def parse(argv, read_stdin, optstring, resource_reader):
    """The request of `qsub ARGV` with the script's `#PBS` lines under it, and the
    script's text: the file ARGV names, or standard input when it names none."""
    request = Request(arguments=list(argv))
    command_line, operands = _options(argv, optstring)
    if operands:
        request.script_path = os.path.abspath(operands[0])
        with open(request.script_path, encoding="utf-8", errors="surrogateescape") as script:
            script_text = script.read()
    else:
        script_text = read_stdin()
    for option, value in directives(script_text, optstring) + command_line:
        _apply(request, option, value, resource_reader)
    return request, script_text


def directives(script_text, optstring):
    """The options of the script's `#PBS` lines, read until its first command."""
    options = []
    for line in script_text.splitlines():
        stripped = line.strip()
        if stripped.startswith(DIRECTIVE):
            options += _options(shlex.split(stripped[len(DIRECTIVE):], comments=True), optstring)[0]
        elif stripped and not stripped.startswith("#"):
            break
    return options


def _options(argv, optstring):
    try:
        return getopt.getopt(argv, optstring)
    except getopt.GetoptError as error:
        raise IllegalOption(error.opt) from None


def _apply(request, option, value, resource_reader):
    if option == "-N":
        request.name = value
    elif option in ("-o", "-e"):
        path = value.split(":", 1)[1] if re.match(r"^[\w.-]+:", value) else value
        setattr(request, "stdout" if option == "-o" else "stderr", os.path.abspath(path))
    elif option == "-j":
        if value not in ("oe", "eo", "n"):
            raise IllegalOption("j")
        request.join = value
    elif option == "-q":
        request.queue = value.split("@", 1)[0]
    elif option == "-A":
        request.account = value
    elif option == "-h":
        request.hold = True
    elif option == "-r":
        if value not in ("y", "n"):
            raise IllegalOption("r")
        request.rerunnable = value == "y"
    elif option == "-l":
        for resource in split_resources(value):
            resource_reader(request, *resource)
    elif option == "-v":
        request.variables += [tuple(item.split("=", 1)) if "=" in item
                              else (item, os.environ.get(item, "")) for item in value.split(",")]
    elif option == "-W":
        key, _, setting = value.partition("=")
        if key != "depend" or not re.match(r"^after(ok|any|notok)?(:\d+(\.[\w.-]+)?)+$", setting):
            raise IllegalOption("W")
        request.depend = re.sub(r"\.[\w.-]+", "", setting)
    elif option == "-z":
        request.print_id = False
    elif option == "-V":
        pass  # sbatch hands the whole environment to the job anyway
    else:
        raise IllegalOption(option.lstrip("-"))


def split_resources(value):
    """`select=2:ncpus=4,walltime=01:00:00` -> [("select", "2:ncpus=4"), ("walltime", ...)]."""
    pairs = []
    for item in value.split(","):
        key, equals, setting = item.partition("=")
        if not equals or not key:
            raise IllegalOption("l")
        pairs.append((key.strip(), setting.strip()))
    return pairs


def seconds(walltime):
    """PBS durations: [[HH:]MM:]SS."""
    parts = walltime.split(":")
    if not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        raise IllegalOption("l")
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total


def chunk_count(text):
    if not text.isdigit() or int(text) < 1:
        raise IllegalOption("l")
    return int(text)


def sbatch_arguments(request, default_name):
    """sbatch options for the request; output files default to PBS's NAME.oID and
    NAME.eID in the working directory (Slurm writes `%j` as the job's number)."""
    name = request.name or default_name
    stdout = _output_path(request.stdout, name, "o")
    stderr = _output_path(request.stderr, name, "e")
    if request.join == "oe":
        stderr = stdout
    elif request.join == "eo":
        stdout = stderr
    argv = [f"--job-name={name}", f"--output={stdout}", f"--error={stderr}",
            f"--nodes={request.chunks}", f"--chdir={os.getcwd()}",
            "--requeue" if request.rerunnable else "--no-requeue"]
    if request.mpiprocs:
        argv.append(f"--ntasks-per-node={request.mpiprocs}")
        if request.ncpus % request.mpiprocs == 0:
            argv.append(f"--cpus-per-task={request.ncpus // request.mpiprocs}")
        else:
            argv.append(f"--mincpus={request.ncpus}")
    else:
        argv.append(f"--cpus-per-task={request.ncpus}")
    if request.walltime is not None:
        minutes, secs = divmod(request.walltime, 60)
        argv.append(f"--time={minutes}:{secs:02d}")
    if request.queue:
        argv.append(f"--partition={request.queue}")
    if request.account:
        argv.append(f"--account={request.account}")
    if request.hold:
        argv.append("--hold")
    if request.exclusive:
        argv.append("--exclusive")
    if request.depend:
        argv.append(f"--dependency={request.depend}")
    argv.append(f"--comment={facts_comment(request)}")
    if request.script_path:
        argv.append(request.script_path)
    return argv


def _output_path(asked, name, kind):
    """PBS writes NAME.oID (NAME.eID) into the directory asked for, or the working one."""
    literal = name.replace("%", "%%")
    if asked is None or os.path.isdir(asked):
        return f"{asked or os.getcwd()}/{literal}.{kind}%j".replace("//", "/")
    return asked.replace("%", "%%")


def job_environment(request, name, host):
    """What PBS puts into a batch job's environment at submission."""
    user = pwd.getpwuid(os.getuid())
    return {"PBS_O_HOME": user.pw_dir, "PBS_O_LOGNAME": user.pw_name,
            "PBS_O_SHELL": user.pw_shell, "PBS_O_WORKDIR": os.getcwd(),
            "PBS_O_SYSTEM": os.uname().sysname, "PBS_O_HOST": host,
            **({"PBS_O_QUEUE": request.queue} if request.queue else {}),
            **dict(caller_variables()), "PBS_ENVIRONMENT": "PBS_BATCH", "PBS_JOBNAME": name,
            **dict(request.variables)}


def facts_comment(request):
    """The qsub arguments and the caller's variables, as the job's comment. Slurm keeps
    1024 characters of it: the longest variables give way first."""
    variables = caller_variables() + list(request.variables)
    while True:
        comment = json.dumps({"args": " ".join(request.arguments), "vars": variables},
                             separators=(",", ":"))
        if len(comment) <= COMMENT_LIMIT or not variables:
            return comment[:COMMENT_LIMIT]
        variables.remove(max(variables, key=lambda pair: len(pair[1])))


def caller_name():
    return pwd.getpwuid(os.getuid()).pw_name


def caller_variables():
    return [(name, os.environ[source]) for name, source in CALLER_VARIABLES
            if source in os.environ]


def read_facts(comment):
    """(Submit_arguments, caller variables) from a job's comment; empty for a job that
    was not submitted through a front."""
    try:
        facts = json.loads(comment)
        return facts["args"], [tuple(pair) for pair in facts["vars"]]
    except (ValueError, KeyError, TypeError):
        return None, []
