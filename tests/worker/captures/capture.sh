#!/bin/bash
# Captures the real output of the scheduler commands the worker parses.
# Run on the login node as the cluster user, in an empty directory on scratch:
#   ssh render@LOGIN 'bash -s' < capture.sh ; then copy the *.txt files back here.
# The single-node Slurm has 2 CPUs, so a third concurrent job stays PENDING.
set -u
cat > sleeper.sh <<'SCRIPT'
#!/bin/bash
sleep "${1:-60}"
SCRIPT
cat > failer.sh <<'SCRIPT'
#!/bin/bash
exit 3
SCRIPT
chmod +x sleeper.sh failer.sh
# Before any job exists (MinJobAge keeps ended jobs listed for a while: start on a quiet queue).
qstat -f > qstat_f_empty.stdout 2> qstat_f_empty.stderr; echo $? > qstat_f_empty.rc
d=$PWD
sbatch --parsable -J cap-running-1 -o "$d/o1" -e "$d/e1" -t 00:02:00 sleeper.sh > sbatch_parsable.txt
sbatch --parsable -J cap-failed -o "$d/o2" -e "$d/e2" -t 00:02:00 failer.sh > /dev/null
qsub -N cap-running-2 -o "$d/o3" -e "$d/e3" -l walltime=00:02:00 sleeper.sh > qsub_submit.txt
sbatch --parsable -J cap-pending -o "$d/o4" -e "$d/e4" -t 00:02:00 sleeper.sh > /dev/null
held=$(sbatch --parsable --hold -J cap-held -o "$d/o5" -e "$d/e5" -t 00:02:00 sleeper.sh)
cancelled=$(sbatch --parsable -J cap-cancelled -o "$d/o6" -e "$d/e6" -t 00:02:00 sleeper.sh)
scancel "$cancelled"
sbatch --parsable -J x -p no-such-partition sleeper.sh > sbatch_invalid_partition.stdout 2> sbatch_invalid_partition.stderr
echo $? > sbatch_invalid_partition.rc
qsub -N x -q no-such-queue sleeper.sh > qsub_invalid_queue.stdout 2> qsub_invalid_queue.stderr
echo $? > qsub_invalid_queue.rc
sleep 3
squeue --noheader --states=all --me --format='%i|%j|%T|%r' > squeue.txt
qstat > qstat.txt
qstat -f > qstat_f.txt
scancel 999999 > scancel_unknown.stdout 2> scancel_unknown.stderr; echo $? > scancel_unknown.rc
qdel 999999 > qdel_unknown.stdout 2> qdel_unknown.stderr; echo $? > qdel_unknown.rc
sacct -X -n -P -o JobID,JobName,State,ExitCode > sacct_disabled.stdout 2> sacct_disabled.stderr
echo $? > sacct_disabled.rc
scancel --me --name=cap-running-1 ; scancel --me --name=cap-running-2; scancel --me --name=cap-pending; scancel "$held"
rm -f sleeper.sh failer.sh o? e?
