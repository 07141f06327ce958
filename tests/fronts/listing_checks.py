"""Comparisons of a front's live `qstat -f` listing with a system's real captures,
shared by the PBS Professional and the Torque tests."""
import itertools
import socket

from real_listings import JOB_ID, read_listing, wrapped_as_pbs

# Attributes a capture shows because its user asked for something the stand-in's jobs do
# not ask for (a dependency, an account, a group, mail, a shell, site resources).
REQUEST_SPECIFIC = {"depend", "Account_Name", "group_list", "Mail_Users", "Shell_Path_List",
                    "umask", "Resource_List.mem", "Resource_List.jobfs",
                    "Resource_List.software", "Resource_List.storage", "Resource_List.wd"}
# What the stand-in cannot show: Slurm keeps no pid of a batch shell that has ended, so a
# finished job has no session_id (docs/sites.md).
UNREPRODUCED_WHEN_ENDED = {"session_id"}


def live_listing(fronts, system, numbers_by_kind, *options):
    """(stdout, {kind: listed job}) of `qstat OPTIONS -f` for the jobs given."""
    done = fronts.run(system, "qstat", *options, "-f", *numbers_by_kind.values())
    assert done.returncode == 0 and done.stderr == "", done
    by_number = {int(job.job_id.split(".")[0]): job for job in read_listing(done.stdout)}
    return done.stdout, {kind: by_number[number] for kind, number in numbers_by_kind.items()}


def captured_names(sequences):
    return {name for sequence in sequences for name in sequence}


def order_rules(sequences):
    """(a, b) for every two attributes the captures print, a always before b."""
    return {pair for sequence in sequences for pair in itertools.combinations(sequence, 2)}


def out_of_order(names, rules):
    return [(a, b) for a, b in itertools.combinations(names, 2) if (b, a) in rules]


def required_by_state(captured_jobs):
    """{(state letter, ran): attributes every captured job in that state has}, ran
    meaning the job was given a host."""
    groups = {}
    for values in captured_jobs:
        key = (values["job_state"], "exec_host" in values)
        groups.setdefault(key, []).append(set(values))
    return {key: set.intersection(*sets) - REQUEST_SPECIFIC for key, sets in groups.items()}


def missing_for_state(values, required, ended):
    expected = required.get((values["job_state"], "exec_host" in values), set())
    if ended:
        expected = expected - UNREPRODUCED_WHEN_ENDED
    return sorted(expected - set(values))


def wrapping_differences(job, limit):
    return [name for name, lines in job.attributes
            if wrapped_as_pbs(name, job.value(name), limit) != "\n".join(lines)]


def id_problems(job, values):
    server = values["server"]
    match = JOB_ID.match(job.job_id)
    problems = []
    if not match or match.group(2) != server:
        problems.append(f"{job.job_id} is not NUMBER.{server}")
    if server != socket.gethostname():
        problems.append(f"server {server} is not this host")
    return problems
