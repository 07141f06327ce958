"""What a PBS job's exit status says, in words: ``Exit_status`` of PBS Professional and
OpenPBS, ``exit_status`` of Torque.

0 to 255 is the batch script's own exit status; 256 + N means the job was killed by
signal N (271: SIGTERM, as qdel and a walltime send it); a negative value is set by PBS
itself when the job could not run or was stopped, and the two families number these
differently: -11 is a job requeued by PBS Professional but one killed at its walltime by
Torque. Sources: OpenPBS src/include/job.h (JOB_EXEC_*), Torque's administrator guide,
"Job exit status" (6.1.2).
"""
from .base import signal_name

# Clauses completing "the batch job ...", by negative exit status.
PBS_PRO = {
    -1: "could not be started (JOB_EXEC_FAIL1)",
    -2: "could not be started after its files were set up (JOB_EXEC_FAIL2)",
    -3: "failed to start and was to be tried again (JOB_EXEC_RETRY)",
    -4: "was aborted when PBS started on its execution host (JOB_EXEC_INITABT)",
    -5: "was aborted when PBS restarted on its execution host (JOB_EXEC_INITRST)",
    -6: "was aborted when PBS restarted on its execution host (JOB_EXEC_INITRMG)",
    -7: "could not be restarted (JOB_EXEC_BADRESRT)",
    -10: "could not run as the cluster user: user or group invalid (JOB_EXEC_FAILUID)",
    -11: "was requeued to run again (JOB_EXEC_RERUN)",
    -12: "was checkpointed and stopped (JOB_EXEC_CHKP)",
    -13: "failed for a bad password (JOB_EXEC_FAIL_PASSWORD)",
    -14: "was requeued when a node it ran on failed (JOB_EXEC_RERUN_SIS_FAIL)",
    -15: "was requeued to restart from a checkpoint (JOB_EXEC_QUERST)",
    -16: "was refused by a site hook and requeued (JOB_EXEC_FAILHOOK_RERUN)",
    -17: "was refused by a site hook and deleted (JOB_EXEC_FAILHOOK_DELETE)",
    -18: "was requeued by a site hook (JOB_EXEC_HOOK_RERUN)",
    -19: "was deleted by a site hook (JOB_EXEC_HOOK_DELETE)",
    -20: "lost its first execution host and was requeued (JOB_EXEC_RERUN_MS_FAIL)",
    -21: "was stopped for a security problem on its execution host "
         "(JOB_EXEC_FAIL_SECURITY)",
    -22: "failed in a site hook (JOB_EXEC_HOOKERROR)",
    -23: "had no Kerberos credentials (JOB_EXEC_FAIL_KRB5)",
    -24: "used more CPUs than it asked for (JOB_EXEC_KILL_NCPUS_BURST)",
    -25: "used more CPUs than it asked for (JOB_EXEC_KILL_NCPUS_SUM)",
    -26: "ran out of its virtual memory (JOB_EXEC_KILL_VMEM)",
    -27: "ran out of its memory (JOB_EXEC_KILL_MEM)",
    -28: "ran out of its CPU time (JOB_EXEC_KILL_CPUT)",
    -29: "ran out of its walltime (JOB_EXEC_KILL_WALLTIME)",
    -30: "could not join its nodes together (JOB_EXEC_JOINJOB)",
}
TORQUE = {
    -1: "could not be started (JOB_EXEC_FAIL1)",
    -2: "could not be started after its files were set up (JOB_EXEC_FAIL2)",
    -3: "failed to start and was to be tried again (JOB_EXEC_RETRY)",
    -4: "was aborted when Torque started on its execution host (JOB_EXEC_INITABT)",
    -5: "was aborted when Torque restarted on its execution host (JOB_EXEC_INITRST)",
    -6: "was aborted when Torque restarted on its execution host (JOB_EXEC_INITRMG)",
    -7: "could not be restarted (JOB_EXEC_BADRESRT)",
    -8: "could not run its batch script (JOB_EXEC_CMDFAIL)",
    -9: "could not open its output or error file (JOB_EXEC_STDOUTFAIL)",
    -10: "ran out of its memory (JOB_EXEC_OVERLIMIT_MEM)",
    -11: "ran out of its walltime (JOB_EXEC_OVERLIMIT_WT)",
    -12: "ran out of its CPU time (JOB_EXEC_OVERLIMIT_CPUT)",
    -13: "failed to set up its cgroups and was to be tried again (JOB_EXEC_RETRY_CGROUP)",
    -14: "failed in its prologue and was to be tried again (JOB_EXEC_RETRY_PROLOGUE)",
}
SIGNAL_OFFSET = 256


def describe(exit_status, meanings, attribute="Exit_status"):
    """"the batch job ..." for an exit status, ``meanings`` being PBS_PRO or TORQUE."""
    shown = f"{attribute} {exit_status}"
    if exit_status >= SIGNAL_OFFSET:
        return (f"the batch job was killed by {signal_name(exit_status - SIGNAL_OFFSET)} "
                f"({shown})")
    if exit_status < 0:
        clause = meanings.get(exit_status, "was stopped by the batch system")
        return f"the batch job {clause} ({shown})"
    return f"the batch script exited with status {exit_status} ({shown})"
