/* SPDX-License-Identifier: MIT */
/* vmm/log.c: the logger resource (log_configure) and the line format. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"
#include "vmm/log.h"

/* The whole file at path, NUL-terminated, into buf. */
static void read_all(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ASSERT_TRUE(fd >= 0);
	n = read(fd, buf, size - 1);
	ASSERT_TRUE(n >= 0);
	buf[n] = '\0';
	close(fd);
}

TEST(log_configure_file)
{
	char dir[] = "/tmp/microvm-log-XXXXXX", path[64], path2[64], buf[1024], want[128];
	enum log_level saved = log_max_level;
	struct stat st;
	int line;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(path2, sizeof(path2), "%s/log2", dir);
	ASSERT_ERR(log_configure(path, LOG_DEBUG + 1, false, false), -EINVAL);
	ASSERT_ERR(log_configure(path, -3, false, false), -EINVAL);
	ASSERT_ERR(log_configure("/nonexistent/dir/log", -1, false, false), -ENOENT);

	ASSERT_OK(log_configure(path, LOG_INFO, false, false));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	log_info("plain %d", 1);
	log_debug("not written");
	ASSERT_OK(log_configure(NULL, -1, true, false)); /* level kept */
	ASSERT_EQ(log_max_level, LOG_INFO);
	log_warn("with level");
	ASSERT_OK(log_configure(NULL, LOG_ERR, true, true));
	line = __LINE__ + 1;
	log_err("with origin");
	log_warn("filtered");
	ASSERT_OK(log_configure(NULL, LOG_OFF, false, false));
	log_err("off: even errors are dropped");
	read_all(path, buf, sizeof(buf));
	snprintf(want, sizeof(want), "microvm: ERROR %s:%d: with origin\n", __FILE__, line);
	ASSERT_TRUE(strstr(buf, "microvm: plain 1\nmicrovm: WARN with level\n") == buf);
	ASSERT_STR_EQ(buf + strlen("microvm: plain 1\nmicrovm: WARN with level\n"), want);

	/* A second file replaces the first; the first is not written any more. */
	ASSERT_OK(log_configure(path2, LOG_WARN, false, false));
	log_warn("second");
	read_all(path2, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "microvm: second\n");
	read_all(path, buf, sizeof(buf));
	ASSERT_TRUE(strstr(buf, "second") == NULL);

	ASSERT_OK(log_configure("-", -1, false, false));
	unlink(path);
	unlink(path2);
	rmdir(dir);
	log_max_level = saved;
}

TEST(log_configure_fifo)
{
	char dir[] = "/tmp/microvm-log-XXXXXX", path[64], buf[256];
	enum log_level saved = log_max_level;
	int rd;
	ssize_t n;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ASSERT_OK(mkfifo(path, 0600));
	/* No reader yet: opening still works, and a reader that comes later gets the lines. */
	ASSERT_OK(log_configure(path, LOG_WARN, false, false));
	rd = open(path, O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(rd >= 0);
	log_warn("through the fifo");
	n = read(rd, buf, sizeof(buf) - 1);
	ASSERT_EQ(n, (ssize_t)strlen("microvm: through the fifo\n"));
	buf[n] = '\0';
	ASSERT_STR_EQ(buf, "microvm: through the fifo\n");
	/* A full pipe drops lines: logging never blocks the VMM. */
	for (int i = 0; i < 2000; i++)
		log_warn("filler line %d to fill the pipe buffer of 64 KiB .......................",
			 i);
	close(rd);
	ASSERT_OK(log_configure("-", -1, false, false));
	unlink(path);
	rmdir(dir);
	log_max_level = saved;
}
