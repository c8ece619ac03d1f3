#pragma once
/// MPI for the lifetime of this object: initialised with MPI_THREAD_FUNNELED (only the
/// main thread of each rank talks MPI; servers' workers do not), finalised at the end.

namespace trkaas {

class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return m_rank; }
  int size() const { return m_size; }

  /// Whether this process was started by mpirun, mpiexec or srun (as one rank of a job).
  static bool launchedByMpi();

 private:
  int m_rank = 0;
  int m_size = 1;
};

}  // namespace trkaas
