#ifndef SPAWN_SHIM_H
#define SPAWN_SHIM_H

#include <spawn.h>

/// glibc's GNU extensions to posix_spawn and pipe, which Swift's Glibc module does not declare.
/// Each returns 0 or an errno value (the pipe: 0 or -1 with errno set).
int spawn_shim_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int spawn_shim_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int spawn_shim_pipe_cloexec(int ends[2]);

#endif
