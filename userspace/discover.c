#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "discover.h"

static bool read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;	/* it exited meanwhile */
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok;
}

size_t discover_by_comm(char *const *names, size_t nnames, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	char comm[32];

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (!read_comm(pid, comm, sizeof(comm)))
			continue;
		for (size_t i = 0; i < nnames; i++) {
			if (!strcmp(comm, names[i])) {
				out[n++] = pid;
				break;
			}
		}
	}
	closedir(d);
	return n;
}

bool process_exists(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}
