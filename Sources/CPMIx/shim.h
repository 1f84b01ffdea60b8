// The one PMIx call the MPI backend makes (Note [leaving MPI_Init together]): a fence of every process of
// the job's namespace, through the PMIx client library Open MPI itself runs on (Debian's Open MPI is built
// against the external libpmix, so this shares its connection to the launcher's PMIx server).
#ifndef CPMIX_SHIM_H
#define CPMIX_SHIM_H
#include <pmix.h>

/// A fence of every process of the job that collects data (PMIX_COLLECT_DATA: Slurm's PMIx plugin releases
/// a fence without it at once, Note [leaving MPI_Init together]). 0 after every process reached it; 1 when
/// this process has no PMIx server to ask (not started by mpirun or srun --mpi=pmix); a negative PMIx
/// status when the fence itself failed.
static inline int cpmix_fence_job(void) {
    pmix_proc_t self;
    if (PMIx_Init(&self, NULL, 0) != PMIX_SUCCESS) return 1;
    pmix_info_t info;
    bool collect = true;
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    pmix_status_t status = PMIx_Fence(NULL, 0, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    PMIx_Finalize(NULL, 0);
    return status == PMIX_SUCCESS ? 0 : (int)status;
}

static inline const char *cpmix_error_string(int status) { return PMIx_Error_string((pmix_status_t)status); }

#endif
