"""The job tables of OpenPBS's qstat (src/cmds/qstat.c): the default one
(display_statjob()) and the alternative one of -a, -H and -u (altdsp_statjob()), each
in its normal and its wide (-w) form. A value too long for its column ends in `*`.

Both read the same attributes the full listing prints, as a dict.
"""

BLANK = " -- "


def default_table(jobs, wide):
    """`jobs` is a list of (job id, attributes dict)."""
    if wide:
        header = ("Job id                         Name            User             Time Use S Queue\n"
                  "-----------------------------  --------------- ---------------  -------- - "
                  "---------------\n")
        widths = (30, 15, 15, 15)
    else:
        header = ("Job id            Name             User              Time Use S Queue\n"
                  "----------------  ---------------- ----------------  -------- - -----\n")
        widths = (17, 16, 16, 16)
    rows = []
    for job_id, attributes in jobs:
        short_id = ".".join(job_id.split(".")[:2])
        name = attributes["Job_Name"]
        # The name column keeps one place fewer than the others before it marks a cut.
        name = name if len(name) < widths[1] else name[:widths[1] - 1] + "*"
        rows.append(
            f"{_cut(short_id, widths[0]):<{widths[0]}} {name:<{widths[1]}} "
            f"{_cut(attributes['Job_Owner'].split('@')[0], widths[2]):<{widths[2]}}  "
            f"{_cut(attributes.get('resources_used.cput', '0'), 8):>8} "
            f"{attributes['job_state']:>1} {attributes['queue']:<{widths[3]}}\n")
    return header + "".join(rows) if rows else ""


def alternative_table(jobs, server, wide):
    if not jobs:
        return ""
    if wide:
        spaces = " ".join(" " * width for width in (30, 15, 15, 15, 8, 4, 5))
        header = (f"\n{server}: \n{spaces} Req'd  Req'd   Elap\n"
                  + " ".join(f"{title:<{width}}" for title, width in zip(
                      ("Job ID", "Username", "Queue", "Jobname", "SessID", "NDS", "TSK"),
                      (30, 15, 15, 15, 8, 4, 5)))
                  + " Memory Time  S Time\n"
                  + " ".join("-" * width for width in (30, 15, 15, 15, 8, 4, 5))
                  + " ------ ----- - -----\n")
        columns = ((30, "<"), (15, "<"), (15, "<"), (15, "<"), (8, ">"), (4, ">"), (5, ">"))
    else:
        header = (f"\n{server}: \n{' ' * 60}Req'd  Req'd   Elap\n"
                  "Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
                  "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
        columns = ((15, "<"), (8, "<"), (8, "<"), (10, "<"), (6, ">"), (3, ">"), (3, ">"))
    rows = []
    for job_id, attributes in jobs:
        values = (job_id, attributes["Job_Owner"].split("@")[0], attributes["queue"],
                  attributes["Job_Name"], attributes.get("session_id", BLANK),
                  attributes.get("Resource_List.nodect", BLANK),
                  attributes.get("Resource_List.ncpus", BLANK))
        cells = " ".join(f"{_cut(value, width)[:width]:{align}{width}}"
                         for value, (width, align) in zip(values, columns))
        rows.append(f"{cells} {BLANK[:6]:>6} "
                    f"{attributes.get('Resource_List.walltime', BLANK)[:5]:>5} "
                    f"{attributes['job_state'][:1]} "
                    f"{attributes.get('resources_used.walltime', BLANK)[:5]:>5}\n")
    return header + "".join(rows)


def _cut(value, width):
    return value if len(value) <= width else value[:width - 1] + "*"
