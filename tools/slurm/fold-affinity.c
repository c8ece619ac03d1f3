/* Preloaded into the local cluster's slurmd (and so its slurmstepd): lets Slurm's real
 * task/affinity bind tasks on a node that claims more CPUs than the machine has.
 *
 * tools/slurm/local-cluster.sh gives slurmd a synthetic hwloc topology with the configured
 * node shape (HWLOC_SYNTHETIC), so Slurm allocates, checks ("CPU binding outside of job step
 * allocation") and computes masks exactly as on a node of that size. Only the last system
 * call would fail (EINVAL: no such CPU): here CPU c of the requested mask becomes CPU
 * (c mod the CPUs this process may use), and the task is bound to that real subset.
 * Test infrastructure only; nothing in trkaas or the job scripts depends on it. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t* mask) {
  cpu_set_t real;
  CPU_ZERO(&real);
  if (syscall(SYS_sched_getaffinity, 0, sizeof real, &real) < 0) return -1;
  int ids[CPU_SETSIZE];
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &real)) ids[n++] = c;
  if (n == 0) return (int)syscall(SYS_sched_setaffinity, pid, size, mask);
  cpu_set_t folded;
  CPU_ZERO(&folded);
  const int bits = (int)(size * 8 < CPU_SETSIZE ? size * 8 : CPU_SETSIZE);
  for (int c = 0; c < bits; ++c)
    if (CPU_ISSET_S(c, size, mask)) CPU_SET(ids[c % n], &folded);
  if (getenv("TRKAAS_FOLD_AFFINITY_LOG")) {
    fprintf(stderr, "fold-affinity: pid %d:", (int)pid);
    for (int c = 0; c < bits; ++c)
      if (CPU_ISSET_S(c, size, mask)) fprintf(stderr, " %d->%d", c, ids[c % n]);
    fprintf(stderr, "\n");
  }
  return (int)syscall(SYS_sched_setaffinity, pid, sizeof folded, &folded);
}
